"""The ``sigdenoise`` command line: help reads well, usage errors exit 2, denoise and info run."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from sigdenoise.cli import build_parser, cmd_denoise, cmd_fetch_data, cmd_info, cmd_train, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "fetch-data", "info", "denoise"):
        assert command in out


def test_denoise_help_shows_flags_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["denoise", "--help"])
    out = capsys.readouterr().out
    for flag in ("--model", "--steps", "--uncertainty", "--seed", "--workers", "--device", "--backend", "--scheduler",
                 "--sample-rate", "manifest.jsonl", "examples:", "Exit status"):
        assert flag in out, flag


def test_every_command_keeps_its_handler():
    parser = build_parser()
    assert parser.parse_args(["train", "--config", "c.toml"]).func is cmd_train
    assert parser.parse_args(["fetch-data", "speech"]).func is cmd_fetch_data
    assert parser.parse_args(["info", "speech"]).func is cmd_info
    args = parser.parse_args(["denoise", "a.wav", "b/", "-o", "out"])
    assert args.func is cmd_denoise and args.inputs == ["a.wav", "b/"] and args.uncertainty == 1
    assert (args.backend, args.device, args.workers, args.model) == ("local", "auto", None, None)


@pytest.mark.parametrize("argv", [
    ["denoise", "a.wav"],  # no -o
    ["denoise", "-o", "out"],  # no input
    ["denoise", "a.wav", "-o", "out", "--workers", "0"],
    ["denoise", "a.wav", "-o", "out", "--uncertainty", "1"],
    ["denoise", "a.wav", "-o", "out", "--steps", "0"],
    ["denoise", "a.wav", "-o", "out", "--sample-rate", "-5"],
    ["denoise", "a.wav", "-o", "out", "--backend", "ray"],
    ["denoise", "a.wav", "-o", "out", "--device", "tpu"],
])
def test_bad_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_denoise_end_to_end(tiny_model_env, tmp_path, capsys):
    sf.write(tmp_path / "take.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 16000, subtype="PCM_16")
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "out"), "--steps", "1",
                 "--seed", "3", "--workers", "1", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "1 denoised, 0 skipped" in captured.out and "manifest:" in captured.out
    record = json.loads((tmp_path / "out" / "manifest.jsonl").read_text())
    assert (record["status"], record["steps"], record["model"], record["rate"]) == ("ok", 1, "speech", 16000.0)
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "out"), "--steps", "1",
                 "--seed", "3", "--workers", "1"]) == 0
    assert "0 denoised, 1 skipped" in capsys.readouterr().out


def test_strength_flag_reaches_the_model(tiny_model_env, tmp_path, capsys):
    take = 0.1 * np.random.default_rng(1).standard_normal(8000)
    sf.write(tmp_path / "take.wav", take, 16000, subtype="FLOAT")
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "out"), "--strength", "0",
                 "--workers", "1", "--device", "cpu"]) == 0
    out, _ = sf.read(tmp_path / "out" / "take.wav")
    np.testing.assert_allclose(out, take, atol=1e-6)  # strength 0: the input unchanged
    record = json.loads((tmp_path / "out" / "manifest.jsonl").read_text())
    assert record["settings"]["strength"] == 0.0 and record["settings"]["remove_hum"] is True
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "kept"), "--keep-mains",
                 "--workers", "1", "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "kept" / "manifest.jsonl").read_text())
    assert record["status"] == "ok" and record["settings"]["remove_hum"] is False


def test_shifts_flag_reaches_the_model_and_is_part_of_the_settings(tiny_model_env, tmp_path, capsys):
    take = 0.1 * np.random.default_rng(2).standard_normal(8000)
    sf.write(tmp_path / "take.wav", take, 16000, subtype="FLOAT")
    common = ["--workers", "1", "--device", "cpu", "--steps", "1"]
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "one"), *common]) == 0
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "two"), "--shifts", "2", *common]) == 0
    one, _ = sf.read(tmp_path / "one" / "take.wav")
    two, _ = sf.read(tmp_path / "two" / "take.wav")
    assert one.shape == two.shape and not np.allclose(one, two)
    assert "shifts" not in json.loads((tmp_path / "one" / "manifest.jsonl").read_text())["settings"]
    assert json.loads((tmp_path / "two" / "manifest.jsonl").read_text())["settings"]["shifts"] == 2
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "band"), "--shifts", "2",
                 "--uncertainty", "4", "--workers", "1"]) == 2  # refused before any model loads
    capsys.readouterr()
    # the same folder with another setting is work to redo, not a file to skip
    assert main(["denoise", str(tmp_path / "take.wav"), "-o", str(tmp_path / "one"), "--shifts", "2", *common]) == 0
    assert "1 denoised, 0 skipped" in capsys.readouterr().out


def test_info_prints_the_model_as_json(tiny_model_env, capsys):
    assert main(["info", "sensor", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["task"] == "sensor" and info["config"]["sample_rate"] == 1000 and info["parameters"] > 0
