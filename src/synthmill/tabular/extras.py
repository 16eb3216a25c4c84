"""The optional libraries behind `--method dp` and `--method argn`, and the one line that
says how to install them when they are missing.

Both libraries are installed without their own dependency lists (`pip install --no-deps`),
with the dependencies they really use listed in synthmill's extras instead:
- smartnoise-synth pins opacus<0.15 (and so pulls a torch) for its GAN synthesizers only;
  MST and AIM need neither, and the pin clashes with mostlyai-engine's opacus>=1.6.
- mostlyai-engine requires torchvision, torchaudio and xgrammar (for its language models),
  which from the package index are CUDA builds: torchvision's then fails to load beside a
  CPU torch and breaks `import transformers`; xgrammar pulls a 1 GB triton.
"""

from __future__ import annotations

from importlib import metadata

from synthmill.errors import MissingExtraError

SMARTNOISE = "smartnoise-synth==1.0.8"
MOSTLYAI = "mostlyai-engine==2.7.3"
INSTALL = {
    "dp": f"pip install 'synthmill[tabular-dp]' && pip install --no-deps {SMARTNOISE}",
    "argn": (
        "pip install torch==2.13.0 (a CPU build) && pip install 'synthmill[tabular-deep]' "
        f"&& pip install --no-deps {MOSTLYAI}"
    ),
}
MODULES = {
    "dp": (("snsynth", "smartnoise-synth"), ("snsql", "smartnoise-sql"), ("mbi", "mbi")),
    "argn": (("mostlyai.engine", "mostlyai-engine"), ("torch", "torch")),
}


class MissingLibraryError(MissingExtraError):
    """A library behind a tabular method is missing; the message is the install line."""

    def __init__(self, method: str, package: str) -> None:
        ImportError.__init__(
            self,
            f"--method {method} needs {package}, which is not installed; install it with: "
            f"{INSTALL[method]}",
        )


def require(method: str) -> None:
    """Raise MissingLibraryError unless every library `method` needs can be found."""
    from importlib.util import find_spec

    for module, package in MODULES.get(method, ()):
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingLibraryError(method, package)


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
