"""sigdenoise: a few-step conditional diffusion (Brownian bridge) denoiser for 1-D signals.

    import sigdenoise
    model = sigdenoise.load_model("speech")
    y = model.denoise(x, sample_rate=sr)
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["load_model", "denoise_file", "available_models", "DenoiseModel", "__version__"]


def __getattr__(name):
    # Lazy so that `import sigdenoise` stays light (no torch import until a model is used).
    if name in ("load_model", "available_models", "DenoiseModel"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "denoise_file":
        from .jobs import denoise_file

        return denoise_file
    raise AttributeError(f"module 'sigdenoise' has no attribute {name!r}")
