"""Which models the page offers, loaded once per server process, and their defaults."""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

import gradio as gr

import sigdenoise

log = logging.getLogger(__name__)


_load_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, folder: str) -> "sigdenoise.DenoiseModel":
    return sigdenoise.load_model(name)


def get_model(name: str) -> "sigdenoise.DenoiseModel":
    """Load a bundled model once per name (and checkpoint folder) and keep it.

    Only names from the Model menu: the message never shows the server's folders (a web client
    may send anything, a list included).
    """
    if not isinstance(name, str) or name not in available_models():
        shown = repr(name) if isinstance(name, str) and len(name) < 64 else "that"
        raise gr.Error(f"No model named {shown} here; pick one from the Model menu "
                       f"({', '.join(available_models()) or 'none installed'}).", title="Unknown model")
    with _load_lock:
        return _load_cached(name, str(checkpoint_folder()))


def checkpoint_folder() -> Path:
    from sigdenoise.pipeline import checkpoint_dir

    return checkpoint_dir()


def available_models() -> list[str]:
    import sigdenoise

    return sigdenoise.available_models()


def _models_for(task: str) -> tuple[list[str], str | None]:
    """The bundled models made for ``task`` ("speech" or "sensor"), the one named after it first.

    A voice menu that offers the sensor model invites a wrong choice, so each tab lists its own.
    A checkpoint that does not load is listed in both: denoising with it says why.
    """
    def task_of(name: str) -> str | None:
        try:
            return get_model(name).config.task
        except Exception:  # noqa: BLE001 - a broken checkpoint must not stop the page from loading
            log.exception("could not load model %r", name)
            return None

    names = [n for n in available_models() if task_of(n) in (task, None)]
    names.sort(key=lambda n: (n != task, n))
    return names, (names[0] if names else None)


def _default_strength(name: str | None) -> float:
    """The dry/wet mix the model uses when a call names none (``ModelConfig.default_strength``)."""
    if name is None:
        return 1.0
    try:
        return float(get_model(name).config.default_strength)
    except Exception:  # a broken checkpoint must not stop the page from loading; denoising will say why
        log.exception("could not load model %r", name)
        return 1.0


def _default_steps(name: str | None, num_samples: int = 1) -> int:
    """The steps a call with ``num_samples`` samples runs by default (``DenoiseModel.resolve_steps``)."""
    if name is None:
        return 2
    try:
        return get_model(name).resolve_steps(None, num_samples=num_samples)
    except Exception:  # a broken checkpoint must not stop the page from loading; denoising will say why
        log.exception("could not load model %r", name)
        return 2
