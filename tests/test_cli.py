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


def test_version_flag(capsys):
    from sigdenoise import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"sigdenoise {__version__}"


def _tiny_with(path, *, config_edit=None, meta_edit=None, training=None):
    """A tiny checkpoint, its config or raw metadata changed the way a damaged or hostile file would be."""
    import torch
    from safetensors.torch import save_file

    from sigdenoise.config import to_dict
    from sigdenoise.diffusion import BridgeDenoiser
    from tests.conftest import make_tiny_config

    config = make_tiny_config("sensor", 1000)
    raw = to_dict(config)
    if config_edit:
        config_edit(raw)
    meta = {"format_version": "1", "config": json.dumps(raw), "data": "{}", "training": json.dumps(training or {})}
    if meta_edit:
        meta_edit(meta)
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in BridgeDenoiser(config).state_dict().items()}
    save_file(state, str(path), metadata=meta)
    return path


def test_checkpoint_schema_names_its_writer_and_what_it_left_out(tmp_path, capsys):
    from sigdenoise.checkpoint import CheckpointError
    from sigdenoise.pipeline import load_model

    def drop_edge(raw):
        del raw["edge_context_seconds"]
        raw["from_the_future"] = 1.0

    path = _tiny_with(tmp_path / "newer.safetensors", config_edit=drop_edge,
                      meta_edit=lambda m: m.update(sigdenoise_version="9.0.0"))
    with pytest.warns(UserWarning, match=r"sigdenoise 9\.0\.0.*from_the_future.*upgrade sigdenoise"):
        model = load_model(path, device="cpu")
    assert model.metadata["defaulted"] == ["edge_context_seconds"]
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "sigdenoise 9.0.0, checkpoint format 1" in out and "defaulted    edge_context_seconds" in out
    # a newer network's setting: its tensors cannot fit, and the advice is to upgrade, not "damaged"
    grown = _tiny_with(tmp_path / "grown.safetensors", config_edit=lambda c: c["net"].update(bottleneck=24, wider=2))
    with pytest.warns(UserWarning), pytest.raises(CheckpointError, match="upgrade sigdenoise"):
        load_model(grown, device="cpu")
    # what this version writes: its own version, the current format, every setting
    from sigdenoise import __version__
    from sigdenoise.checkpoint import read_metadata, save_checkpoint
    from sigdenoise.config import FORMAT_VERSION

    save_checkpoint(tmp_path / "mine.safetensors", model.network.state_dict(), model.config)
    meta = read_metadata(tmp_path / "mine.safetensors")
    assert (meta["sigdenoise_version"], meta["format_version"], meta["defaulted"]) == (__version__, FORMAT_VERSION, [])


def test_retired_settings_load_at_their_neutral_value_and_are_refused_when_used(tmp_path):
    """Files written before the unused experiments left the code (the bundled ones among them) hold those
    settings at the value that changed nothing: they load, silently and unchanged. A file that used one is
    refused with the reason, not run without it."""
    import warnings

    from sigdenoise.checkpoint import CheckpointError
    from sigdenoise.pipeline import load_model

    def old_file(raw):
        raw.update(wavelet_input=False, noise_floor_frames=0, filter_frames=0)
        raw["net"].update(freq_dilations=[], recurrent=0, freq_fold=1)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_model(_tiny_with(tmp_path / "old.safetensors", config_edit=old_file), device="cpu")
    assert model.metadata["defaulted"] == [] and not hasattr(model.config, "filter_frames")
    used = _tiny_with(tmp_path / "used.safetensors", config_edit=lambda c: c.update(filter_frames=2))
    with pytest.raises(CheckpointError, match="filter_frames.*taken out"):
        load_model(used, device="cpu")


@pytest.mark.parametrize("edit, field", [
    (dict(config_edit=lambda c: c["net"].update(channels=[100000] * 3)), "net.channels"),
    (dict(config_edit=lambda c: c["stft"].update(n_fft=2 ** 30)), "stft.n_fft"),
    (dict(config_edit=lambda c: c.update(sample_rate="fast")), "sample_rate"),
    (dict(config_edit=lambda c: c["net"].update(bottleneck=24)), "tensors do not fit"),
    (dict(meta_edit=lambda m: m.update(format_version="abc")), "format_version"),
    (dict(meta_edit=lambda m: m.update(config="{not json")), "'config' is not valid JSON"),
    (dict(meta_edit=lambda m: m.update(format_version="99")), "upgrade sigdenoise"),
])
def test_a_bad_checkpoint_config_is_refused_before_anything_is_built(tmp_path, capsys, monkeypatch, edit, field):
    from sigdenoise.checkpoint import CheckpointError
    from sigdenoise.diffusion import BridgeDenoiser
    from sigdenoise.pipeline import load_model

    path = _tiny_with(tmp_path / "bad.safetensors", **edit)
    built = []
    real_init = BridgeDenoiser.__init__

    def spy(self, config, *a, **k):
        built.append(torch_default_device())
        return real_init(self, config, *a, **k)

    def torch_default_device():
        import torch

        return str(torch.empty(0).device)

    monkeypatch.setattr(BridgeDenoiser, "__init__", spy)
    with pytest.raises(CheckpointError, match=field.replace("[", r"\[").replace("(", r"\(")):
        load_model(path, device="cpu")
    assert all(device == "meta" for device in built)  # only the allocation-free shape check ran
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


def test_info_reads_well_and_shows_every_stage(tmp_path, capsys):
    training = {"step": 600, "hours": 0.0812345, "validation": {"si_sdr@1": 14.600661277770996},
                "stages": [{"run": "runs/a", "step": 3000, "hours": 1.25}, {"run": "runs/b", "step": 600,
                                                                            "hours": 0.0812345}]}
    path = _tiny_with(tmp_path / "m.safetensors", training=training)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "si_sdr@1 14.6" in out and "14.600661" not in out
    assert "runs/a: step 3000, 1.25 h" in out and "runs/b: step 600, 0.08123 h" in out and "1.331 h over 2" in out


def test_time_column_and_columns_flags_reach_the_reader(tiny_model_env, tmp_path, capsys):
    rows = ["when,a,b,c"] + [f"{i * 0.002:.4f},{np.sin(i / 7):.5f},{i % 5},{np.cos(i / 9):.5f}" for i in range(600)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    common = ["-o", str(tmp_path / "out"), "--workers", "1"]
    assert main(["denoise", str(tmp_path / "log.csv"), *common]) == 1
    captured = capsys.readouterr()
    assert "--time-column" in captured.err + captured.out and "time_column=" not in captured.err + captured.out
    assert main(["denoise", str(tmp_path / "log.csv"), *common, "--time-column", "when", "--columns", "a,c"]) == 0
    out = (tmp_path / "out" / "log.csv").read_text().splitlines()
    assert out[0].split(",")[:4] == ["when", "a", "b", "c"]
    assert [line.split(",")[0] for line in out[1:]] == [r.split(",")[0] for r in rows[1:]]  # times as written
    assert [float(line.split(",")[2]) for line in out[1:]] == [float(r.split(",")[2]) for r in rows[1:]]  # b kept


def test_sampler_rule_errors_name_the_flags(capsys, tmp_path):
    assert main(["denoise", str(tmp_path), "-o", str(tmp_path / "o"), "--uncertainty", "4", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "--uncertainty 4 with --steps 1" in err and "None" not in err and "num_samples" not in err
