"""Hypothesis settings for the property tests.

CI draws the same examples on every run (`derandomize`), so a red build is reproducible and
never a matter of luck; `HYPOTHESIS_PROFILE=explore` draws fresh ones on each run
to look for new counterexamples locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
