"""Where things live on disk: the data cache and the bundled checkpoints. Imports nothing from the package."""
from __future__ import annotations

import os
from pathlib import Path

# Prepared corpora, downloaded packages and (by convention) training runs.
CACHE = Path(os.environ.get("SIGDENOISE_CACHE", Path.home() / ".cache" / "sigdenoise"))


def checkpoint_dir() -> Path:
    """Where bundled models live: ``$SIGDENOISE_CHECKPOINTS``, else the repository's ``checkpoints/`` beside
    the package (a source checkout or an editable install), else ``checkpoints/`` inside the installed package."""
    if "SIGDENOISE_CHECKPOINTS" in os.environ:
        return Path(os.environ["SIGDENOISE_CHECKPOINTS"])
    here = Path(__file__).resolve().parent
    beside = here.parent / "checkpoints"
    return beside if beside.is_dir() else here / "checkpoints"


def available_models() -> list[str]:
    """Names of the bundled models (the ``*.safetensors`` files in :func:`checkpoint_dir`)."""
    return sorted(p.stem for p in checkpoint_dir().glob("*.safetensors"))
