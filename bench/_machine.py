"""What every benchmark result records about where it ran."""

from __future__ import annotations

import os
import platform
from typing import Any

from synthmill.pipeline.rundir import package_versions


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "load_average_at_start": load,
        "versions": package_versions(),
    }
