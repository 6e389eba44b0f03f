"""Configs: JSON round trips and unknown fields."""
from __future__ import annotations

import json

import pytest

from sigdenoise.config import ModelConfig, TrainConfig, from_dict, to_dict

from .conftest import make_tiny_config


def test_config_round_trips_through_json():
    config = make_tiny_config()
    assert from_dict(ModelConfig, json.loads(json.dumps(to_dict(config)))) == config
    assert from_dict(TrainConfig, to_dict(TrainConfig())) == TrainConfig()
    with pytest.raises(ValueError, match="unknown field"):
        from_dict(ModelConfig, {**to_dict(config), "bogus": 1})
