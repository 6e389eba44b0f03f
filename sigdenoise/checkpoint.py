"""Weights files: safetensors tensors plus the JSON config needed to rebuild them.

Loading never unpickles. The metadata holds ``format_version``, the full
:class:`~sigdenoise.config.ModelConfig`, and free-form ``data`` / ``training``
summaries (sources, licences, validation numbers).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .config import FORMAT_VERSION, ModelConfig, from_dict, to_dict


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message says why and what to do."""


def save_checkpoint(path: str | Path, state: dict[str, torch.Tensor], config: ModelConfig, *,
                    data: dict | None = None, training: dict | None = None) -> None:
    """Write tensors and config atomically (temp file, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(to_dict(config)),
        "data": json.dumps(data or {}),
        "training": json.dumps(training or {}),
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


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
    version = int(raw.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this sigdenoise understands "
                              f"({FORMAT_VERSION}); upgrade sigdenoise")
    return {"format_version": version, "config": json.loads(raw["config"]),
            "data": json.loads(raw.get("data", "{}")), "training": json.loads(raw.get("training", "{}"))}


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], ModelConfig, dict]:
    """Return (tensors, config, metadata) from a checkpoint written by :func:`save_checkpoint`."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    try:
        config = from_dict(ModelConfig, meta["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: config in metadata does not match this sigdenoise ({exc})") from exc
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path}: tensors could not be read ({exc}); the file is probably truncated") from exc
    return state, config, meta
