"""Weights files: safetensors tensors plus the JSON config needed to rebuild them.

Loading never unpickles. The metadata holds ``format_version``, the full
:class:`~sigdenoise.config.ModelConfig`, and free-form ``data`` / ``training``
summaries (sources, licences, validation numbers). A file's config is checked (types,
bounds, and the stored tensors' shapes against the network it describes) before
anything is allocated, so a damaged or hostile file cannot ask for terabytes.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
import warnings
from pathlib import Path

import torch

from . import __version__
from .config import FORMAT_VERSION, RETIRED_SETTINGS, ModelConfig, from_dict, to_dict
from .io.atomic import atomic_write
from .paths import available_models, checkpoint_dir

# Bounds a config must keep: far above every model trained here, far below what would exhaust a machine.
# (lowest, highest) per field, by its dotted name; lists are bounded per item, and in length by _MAX_ITEMS.
_BOUNDS: dict[str, tuple[float, float]] = {
    "sample_rate": (0, 1_000_000), "stft.n_fft": (4, 16384), "stft.hop_length": (1, 16384),
    "stft.alpha": (0.01, 4.0), "stft.scale": (1e-6, 1e6),
    "net.channels": (1, 1024), "net.bottleneck": (1, 4096), "net.dilations": (1, 4096),
    "net.emb_dim": (1, 4096),
    "bridge.sigma_max": (1e-6, 100.0), "bridge.default_steps": (1, 1000),
    "target_rms": (1e-9, 1e3), "chunk_seconds": (1e-3, 3600.0), "overlap_seconds": (0.0, 1800.0),
    "edge_context_seconds": (0.0, 60.0), "uncertainty_scale": (1e-9, 1e9), "default_strength": (0.0, 1.0),
    "mask_offset": (-1e3, 1e3),
    "fallback_below_db": (-1e3, 1e3),
}
_MAX_ITEMS = {"net.channels": 12, "net.dilations": 64}
_MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message says why and what to do."""


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """A bundled model name ("speech", "sensor") or a path to a ``.safetensors`` file."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".safetensors" or path.exists():
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        return path
    candidate = checkpoint_dir() / f"{name_or_path}.safetensors"
    if candidate.is_file():
        return candidate
    raise CheckpointError(f"no model named {name_or_path!r}; bundled models: {available_models() or 'none'}; "
                          "or pass a path to a .safetensors file")


def save_checkpoint(path: str | Path, state: dict[str, torch.Tensor], config: ModelConfig, *,
                    data: dict | None = None, training: dict | None = None) -> None:
    """Write tensors and config atomically (temp file, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {
        "format_version": str(FORMAT_VERSION),
        "sigdenoise_version": __version__,
        "config": json.dumps(to_dict(config)),
        "data": json.dumps(data or {}),
        "training": json.dumps(training or {}),
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def _field_error(path: Path, name: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: config field {name}: {problem}; the file is damaged or was not written by "
                           "sigdenoise (re-download or re-train it)")


def _check_value(path: Path, name: str, hint: typing.Any, value: typing.Any, unknown: list | None = None) -> None:
    """Raise a CheckpointError naming ``name`` unless ``value`` has the type ``hint`` and keeps its bounds."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
    if options:
        if value is None and type(None) in options:
            return
        hint = next(o for o in options if o is not type(None))
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise _field_error(path, name, f"expected a table of settings, got {value!r:.60}")
        _check_fields(path, hint, value, prefix=f"{name}.", unknown=unknown)
        return
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            raise _field_error(path, name, f"expected a list, got {value!r:.60}")
        if len(value) > _MAX_ITEMS.get(name, 64):
            raise _field_error(path, name, f"{len(value)} items, at most {_MAX_ITEMS.get(name, 64)} allowed")
        item = typing.get_args(hint)[0]
        for i, v in enumerate(value):
            _check_value(path, f"{name}[{i}]", item, v)
        return
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif hint is str:
        ok = isinstance(value, str) and len(value) <= 64
    else:
        ok = True
    if not ok:
        raise _field_error(path, name, f"expected {getattr(hint, '__name__', hint)}, got {value!r:.60}")
    low, high = _BOUNDS.get(name.split("[")[0], (None, None))
    if low is not None and not low <= value <= high:
        raise _field_error(path, name, f"{value!r} is outside [{low:g}, {high:g}]")


def _check_fields(path: Path, cls: type, data: dict, *, prefix: str = "", unknown: list | None = None) -> None:
    """Check every known field of ``data``; unknown ones are removed from it and named in ``unknown``."""
    hints = typing.get_type_hints(cls)
    for key in list(data):
        if key not in hints:
            del data[key]
            if unknown is not None:
                unknown.append(f"{prefix}{key}")
            continue
        _check_value(path, f"{prefix}{key}", hints[key], data[key], unknown)


def _defaulted(cls: type, data: dict, prefix: str = "") -> list[str]:
    """The fields of ``cls`` (nested ones by dotted name) that ``data`` leaves to their defaults."""
    names = []
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if f.name not in data:
            names.append(f"{prefix}{f.name}")
        elif dataclasses.is_dataclass(hint) and isinstance(data[f.name], dict):
            names += _defaulted(hint, data[f.name], f"{prefix}{f.name}.")
    return names


def _drop_retired(path: Path, raw: dict) -> None:
    """Remove the retired settings (``config.RETIRED_SETTINGS``) from ``raw`` where they hold the value that
    changed nothing; a file that really used one is refused, since this code no longer computes it."""
    for dotted, neutral in RETIRED_SETTINGS.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        value = node.pop(leaf)
        if value != neutral and not (isinstance(neutral, list) and value == tuple(neutral)):
            raise _field_error(path, dotted, f"{value!r}: this experimental option was taken out of sigdenoise (no "
                                             "bundled model used it); retrain without it, or use the release that "
                                             "wrote this file")


def check_config(path: str | Path, raw: typing.Any, *, written_by: str = "an unknown version") -> ModelConfig:
    """The :class:`ModelConfig` a checkpoint's config describes, after checking every field's type and bounds.

    Raises a :class:`CheckpointError` naming the first field that is wrong. Settings this sigdenoise does not
    know (the file was written by a newer one) are left out with a warning that says to upgrade; if the
    network needed them, the shape check then fails with the same advice.
    """
    path = Path(path)
    if not isinstance(raw, dict):
        raise _field_error(path, "config", f"expected a table of settings, got {raw!r:.60}")
    raw, unknown = copy.deepcopy(raw), []
    _drop_retired(path, raw)
    _check_fields(path, ModelConfig, raw, unknown=unknown)
    if unknown:
        warnings.warn(f"{path}: written by sigdenoise {written_by}, it holds settings this sigdenoise ({__version__}) "
                      f"does not know: {', '.join(unknown[:5])}; they are ignored, and the model may behave "
                      "differently than its authors measured: upgrade sigdenoise (pip install -U sigdenoise)",
                      stacklevel=3)
    stft = raw.get("stft", {})
    if stft.get("hop_length", 1) > stft.get("n_fft", 510):
        raise _field_error(path, "stft.hop_length", f"{stft['hop_length']} is longer than n_fft {stft.get('n_fft')}")
    if raw.get("overlap_seconds", 0.25) * 2 >= raw.get("chunk_seconds", 4.0):
        raise _field_error(path, "overlap_seconds", "must be under half of chunk_seconds")
    try:
        return from_dict(ModelConfig, raw)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: config in metadata does not match this sigdenoise ({exc})") from exc


def _check_shapes(path: Path, config: ModelConfig, stored: dict[str, tuple]) -> None:
    """The stored tensors must be exactly those of the network ``config`` describes (built on the meta device,
    which allocates nothing)."""
    from .diffusion import BridgeDenoiser

    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in BridgeDenoiser(config).state_dict().items()}
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: its config describes no network this sigdenoise can build ({exc})") from exc
    total = sum(math.prod(shape) for shape in expected.values())
    if total > _MAX_PARAMETERS:
        raise CheckpointError(f"{path}: its config describes {total:,} parameters, more than the {_MAX_PARAMETERS:,} "
                              "this loader accepts; the file is damaged or not a sigdenoise model")
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    wrong = [k for k in expected if k in stored and tuple(stored[k]) != expected[k]]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [
            f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
            ", ".join(f"{k} is {list(stored[k])}, the config says {list(expected[k])}" for k in wrong[:3])]))
        raise CheckpointError(f"{path}: tensors do not fit the network its config describes ({detail}); the file "
                              "is damaged or its config was edited")


def _json_field(path: Path, raw: dict, key: str, default: str) -> typing.Any:
    try:
        return json.loads(raw.get(key, default))
    except (json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{path}: metadata field {key!r} is not valid JSON ({exc}); the file is damaged or "
                              "was not written by sigdenoise") from None


def read_metadata(path: str | Path) -> dict:
    """The parsed metadata of a checkpoint, without loading its tensors."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = fh.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for truncated/garbage files
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc}); re-download or re-train it") from exc
    if "config" not in raw:
        raise CheckpointError(f"{path}: safetensors file without a sigdenoise config in its metadata")
    text = str(raw.get("format_version", "0")).strip()
    if not text.isdigit():
        raise CheckpointError(f"{path}: metadata field 'format_version' is {text[:40]!r}, not a whole number; the "
                              "file is damaged or was not written by sigdenoise")
    version = int(text)
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this sigdenoise understands "
                              f"({FORMAT_VERSION}); upgrade sigdenoise (pip install -U sigdenoise)")
    config = _json_field(path, raw, "config", "{}")
    return {"format_version": version, "sigdenoise_version": str(raw.get("sigdenoise_version", "before 0.1.0"))[:40],
            "config": config, "data": _json_field(path, raw, "data", "{}"),
            "training": _json_field(path, raw, "training", "{}"),
            "defaulted": _defaulted(ModelConfig, config) if isinstance(config, dict) else []}


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], ModelConfig, dict]:
    """Return (tensors, config, metadata) from a checkpoint written by :func:`save_checkpoint`."""
    from safetensors.torch import load_file

    from safetensors import safe_open

    meta = read_metadata(path)
    config = check_config(path, meta["config"], written_by=meta["sigdenoise_version"])
    try:
        with safe_open(str(path), framework="pt") as fh:
            shapes = {key: tuple(fh.get_slice(key).get_shape()) for key in fh.keys()}
    except Exception as exc:
        raise CheckpointError(f"{path}: tensors could not be read ({exc}); the file is probably truncated") from exc
    try:
        _check_shapes(Path(path), config, shapes)
    except CheckpointError as exc:
        unknown: list[str] = []
        _check_fields(Path(path), ModelConfig, copy.deepcopy(meta["config"]), unknown=unknown)
        if unknown:  # a newer network: its settings, not damage, are why the tensors do not fit
            raise CheckpointError(f"{path}: written by sigdenoise {meta['sigdenoise_version']} with settings this "
                                  f"sigdenoise ({__version__}) does not know ({', '.join(unknown[:5])}); upgrade "
                                  "sigdenoise (pip install -U sigdenoise) to load it") from exc
        raise
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path}: tensors could not be read ({exc}); the file is probably truncated") from exc
    return state, config, meta
