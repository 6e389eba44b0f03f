"""Backbones. Each maps ``(x [B, C_in, F, T], t [B]) -> [B, C_out, F, T]``; pick one by name."""
from __future__ import annotations

from .crn import BridgeCRN

BACKBONES = {"bridge_crn": BridgeCRN}


def build_backbone(name: str, **kwargs):
    """Instantiate the backbone registered under ``name``."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name](**kwargs)
