"""The batch runner: resumable after kill -9, bad files reported, formats round-trip, Dask == local."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

try:
    import psutil
except ImportError:  # a dev dependency; without it the kill test skips its orphan check
    psutil = None

from sigdenoise import batch
from sigdenoise.batch import executors, manifest as batch_manifest, runner, work
from sigdenoise.batch import BatchOptions, BatchUsageError, read_manifest, run_batch
from sigdenoise.batch.work import _SegmentStitcher
from sigdenoise.cli import main
from sigdenoise.io import SensorLog, read_audio, read_sensor_log, write_sensor_log

REPO = Path(__file__).resolve().parents[1]
pytest.importorskip("pandas")


def _run(inputs, out, **kw):
    options = BatchOptions(**{"workers": 1, "progress": False, **kw})
    return run_batch([str(i) for i in inputs], out, options, stream=io.StringIO())


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree_digest(folder: Path) -> dict:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): (_sha(p), p.stat().st_mtime_ns) for p in files}


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def _wav(path: Path, seconds: float = 1.0, channels: int = 1, rate: int = 16000, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, (0.1 * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32), rate,
             subtype="PCM_16")
    return path


def _csv(path: Path, rows: int = 2000, rate: float = 500.0, nan_at: tuple = (), seed: int = 0, iso: bool = False,
         sep: str = ",") -> Path:
    """A log written the way a logger would: a comment line, a time column, fixed decimals."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    values = np.round(rng.standard_normal((rows, 2)) + np.sin(np.arange(rows) / 20.0)[:, None], 6)
    lines = ["# line 7, station B", sep.join(["timestamp" if iso else "time", "temp", "vibration"])]
    start = np.datetime64("2024-03-01T08:00:00.000", "ms")
    for i, (a, b) in enumerate(values):
        t = str(start + np.timedelta64(int(i * 1000 / rate), "ms")) if iso else f"{i / rate:.3f}"
        cells = [t, "" if i in nan_at else repr(float(a)), repr(float(b))]
        lines.append(sep.join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- formats
def _write_every_format(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    files = {"wav": _wav(folder / "audio" / "stereo.wav", 1.0, channels=2)}
    mono = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    for ext, subtype in (("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")):
        files[ext] = folder / "audio" / f"clip.{ext}"
        sf.write(files[ext], mono, 16000, subtype=subtype)
    files["csv"] = _csv(folder / "logs" / "line7.csv", nan_at=(5, 6))
    files["tsv"] = _csv(folder / "logs" / "iso.tsv", iso=True, sep="\t", rate=100.0, rows=600)
    data = rng.standard_normal((2, 1500))
    files["npy"] = folder / "arrays" / "raw.npy"
    files["npy"].parent.mkdir(parents=True)
    np.save(files["npy"], data)
    log = SensorLog(data, 250.0, ["pressure", "flow"], "2024-03-01T08:00:00Z")
    optional = {"npz": None, "parquet": "pyarrow", "h5": "h5py", "mat": "scipy", "tdms": "nptdms"}
    for ext, module in optional.items():
        if module is None or importlib.util.find_spec(module) is not None:
            files[ext] = folder / "arrays" / f"plant.{ext}"
            write_sensor_log(files[ext], log)
    return files


def test_every_format_round_trips_through_the_batch(tiny_model_env, tmp_path):
    """At strength 0 the batch must hand back each file as it came: values, rate, names, times."""
    files = _write_every_format(tmp_path / "in")
    summary = _run([tmp_path / "in"], tmp_path / "out", strength=0.0, sample_rate=250.0)
    assert summary.exit_code == 0, summary.describe()
    assert summary.count("ok") == len(files)
    for ext, src in files.items():
        dst = tmp_path / "out" / src.relative_to(tmp_path / "in")
        assert dst.is_file(), ext
        if ext in ("wav", "flac", "ogg", "mp3"):
            a, b = read_audio(src), read_audio(dst)
            assert (b.sample_rate, b.channels, b.format) == (a.sample_rate, a.channels, a.format), ext
            if ext in ("wav", "flac"):
                np.testing.assert_array_equal(a.data, b.data)
            else:  # lossy codecs: same rate and layout, length within a frame of padding
                assert abs(a.data.shape[1] - b.data.shape[1]) <= 2304, ext
        elif ext in ("csv", "tsv") and "nan" not in src.read_text().lower() and ",," not in src.read_text():
            assert dst.read_text() == src.read_text(), ext  # comments, time column, numbers
        elif ext == "csv":  # empty cells: filled, flagged in <name>_repaired, every other cell as it came
            a, b = read_sensor_log(src), read_sensor_log(dst)
            gaps = ~np.isfinite(a.data)
            assert b.channel_names == a.channel_names + [f"{n}_repaired" for n in a.channel_names]
            np.testing.assert_array_equal(b.data[:2][~gaps], a.data[~gaps])
            assert np.array_equal(b.data[2:] == 1, gaps) and np.isfinite(b.data).all()
            comments = [line for line in src.read_text().splitlines() if line.startswith("#")]
            assert comments and comments == [line for line in dst.read_text().splitlines() if line.startswith("#")]
        else:
            a, b = read_sensor_log(src, sample_rate=250.0 if ext == "npy" else None), read_sensor_log(
                dst, sample_rate=250.0 if ext == "npy" else None)
            np.testing.assert_array_equal(a.data, b.data)
            assert (b.sample_rate, b.channel_names, b.start_time) == (a.sample_rate, a.channel_names, a.start_time), ext
    records = read_manifest(tmp_path / "out" / "manifest.jsonl")
    csv = records[str(files["csv"])]
    assert csv["rate"] == 500.0 and csv["duration"] == 4.0 and csv["missing_samples"] == 2
    assert csv["checksum"] == _sha(files["csv"]) and csv["model"] == "sensor"
    assert records[str(files["wav"])]["model"] == "speech" and records[str(files["wav"])]["steps"] == 2


def test_uncertainty_writes_std_beside_the_values(tiny_model_env, tmp_path):
    wav = _wav(tmp_path / "in" / "a.wav", 0.5)
    _csv(tmp_path / "in" / "b.csv", rows=500, nan_at=(3,))
    npz = tmp_path / "in" / "c.npz"
    write_sensor_log(npz, SensorLog(np.random.default_rng(0).standard_normal((2, 400)), 100.0, ["u", "v"]))
    summary = _run([tmp_path / "in"], tmp_path / "out", uncertainty=3)
    assert summary.exit_code == 0, summary.describe()
    std = read_audio(tmp_path / "out" / "a_std.wav")
    assert std.sample_rate == 16000 and std.data.shape == read_audio(wav).data.shape and std.data.min() >= 0
    log = read_sensor_log(tmp_path / "out" / "b.csv")
    assert log.channel_names == ["temp", "vibration", "temp_std", "vibration_std", "temp_repaired",
                                 "vibration_repaired"]
    assert np.isfinite(log.data).all()  # the gap is filled with the model's estimate ...
    assert log.data[4, 3] == 1 and log.data[4].sum() == 1 and log.data[5].sum() == 0  # ... and flagged
    assert read_sensor_log(tmp_path / "out" / "c.npz").channel_names == ["u", "v", "u_std", "v_std"]
    record = read_manifest(tmp_path / "out" / "manifest.jsonl")[str(wav)]
    assert record["std_output"] == str(tmp_path / "out" / "a_std.wav")


# --------------------------------------------------------------------------- streaming
def test_stitcher_reassembles_any_stream_exactly():
    """Identical segment outputs must stitch back to the input; seams blend neighbours smoothly."""
    rng = np.random.default_rng(0)
    for length in (1, 7, 40, 41, 100, 257):
        x = rng.standard_normal((2, length))
        stitched = _stitch(x, lambda d, k: (2 * d, None), pieces=(3, 11, 50))
        np.testing.assert_allclose(stitched, 2 * x, atol=1e-12)
    offsets = _stitch(np.zeros((1, 100)), lambda d, k: (d + k, None), pieces=(100,))[0]
    assert offsets[0] == 0 and offsets[-1] > 0 and np.all(np.diff(offsets) >= 0)  # ramps, no steps back


def _stitch(x, fn, pieces):
    stitcher = _SegmentStitcher(fn, segment=16, overlap=4)
    out, start, sizes = [], 0, iter(pieces * 100)
    while start < x.shape[1]:
        n = next(sizes)
        stitcher.push(x[:, start:start + n])
        start += n
        if stitcher.ready_count:
            out.append(stitcher.take(stitcher.ready_count)[0])
    stitcher.finish()
    out.append(stitcher.take(stitcher.ready_count)[0])
    result = np.concatenate(out, axis=1)
    assert result.shape == x.shape
    return result


def test_a_big_csv_streams_in_pieces_and_segments(tiny_model_env, tmp_path):
    """Force many read pieces and model segments on a small file: times, gaps and header survive."""
    src = _csv(tmp_path / "in" / "long.tsv", rows=6000, rate=1000.0, nan_at=(10, 2500), iso=True, sep="\t")
    summary = _run([src], tmp_path / "out", strength=0.0, csv_chunk_rows=700, segment_values=2000)
    record = summary.records[0]
    assert record["status"] == "ok" and record["segments"] > 3, record
    out = (tmp_path / "out" / "long.tsv").read_text().splitlines()
    inp = src.read_text().splitlines()
    assert len(out) == len(inp) and out[0] == inp[0]  # comment, then one header
    assert out[1] == inp[1] + "\ttemp_repaired\tvibration_repaired"
    assert [line.split("\t")[0] for line in out] == [line.split("\t")[0] for line in inp]
    a, b = read_sensor_log(src), read_sensor_log(tmp_path / "out" / "long.tsv")
    gaps = ~np.isfinite(a.data)
    np.testing.assert_allclose(b.data[:2][~gaps], a.data[~gaps], rtol=1e-12, atol=1e-12)  # a value crossfaded with itself
    assert np.isfinite(b.data).all() and np.array_equal(b.data[2:] == 1, gaps)  # gaps filled and flagged
    summary = _run([src], tmp_path / "out1", uncertainty=2, csv_chunk_rows=700, segment_values=2000)
    log = read_sensor_log(tmp_path / "out1" / "long.tsv")
    assert log.channel_names[2:] == ["temp_std", "vibration_std", "temp_repaired", "vibration_repaired"]
    assert log.data.shape == (6, 6000) and np.isfinite(log.data).all()


# --------------------------------------------------------------------------- failures
def test_bad_files_are_reported_and_the_rest_proceeds(tiny_model_env, tmp_path, capsys):
    good = [_wav(tmp_path / "in" / "good.wav"), _csv(tmp_path / "in" / "good.csv")]
    (tmp_path / "in" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    (tmp_path / "in" / "empty.csv").write_bytes(b"")
    (tmp_path / "in" / "nan.csv").write_text("time,x\n" + "".join(f"{i / 10:.1f},\n" for i in range(50)))
    (tmp_path / "in" / "fake.npz").write_text("not a zip archive")
    (tmp_path / "in" / "readme.txt").write_text("left out of a folder scan")
    unknown = tmp_path / "notes.xyz"
    unknown.write_text("named explicitly, so it is reported")
    locked = _wav(tmp_path / "in" / "locked.wav")
    locked.chmod(0)
    try:
        code = main(["denoise", str(tmp_path / "in"), str(unknown), "-o", str(tmp_path / "out"), "--workers", "1"])
    finally:
        locked.chmod(0o644)
    assert code == 1
    records = read_manifest(tmp_path / "out" / "manifest.jsonl")
    reasons = {Path(k).name: r["error"] for k, r in records.items() if r["status"] == "failed"}
    root = os.geteuid() == 0  # root reads anything, so the locked file is fine then
    assert {Path(k).name for k, r in records.items() if r["status"] == "ok"} == (
        {g.name for g in good} | ({"locked.wav"} if root else set()))
    assert "cannot be decoded" in reasons["corrupt.wav"]
    assert "empty" in reasons["empty.csv"]
    assert "missing" in reasons["nan.csv"]
    assert "npz" in reasons["fake.npz"]
    assert "not a supported" in reasons["notes.xyz"]
    if not root:
        assert "permission denied" in reasons["locked.wav"]
    assert "readme.txt" not in str(records)
    captured = capsys.readouterr()
    assert "failed: " in captured.err and "corrupt.wav" in captured.err
    assert f"{5 if root else 6} failed" in captured.out


def test_usage_errors_exit_2_before_touching_anything(tiny_model_env, tmp_path, capsys, monkeypatch):
    _wav(tmp_path / "in" / "a.wav")
    before = _tree_digest(tmp_path / "in")
    for argv in (["-o", str(tmp_path / "in")], ["-o", str(tmp_path / "in" / "clean")],
                 ["--backend", "local", "--scheduler", "tcp://127.0.0.1:1", "-o", str(tmp_path / "o")]):
        assert main(["denoise", str(tmp_path / "in"), *argv]) == 2, argv
    assert main(["denoise", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o")]) == 2
    assert main(["denoise", str(tmp_path / "in" / "*.flac"), "-o", str(tmp_path / "o")]) == 2
    assert main(["denoise", str(tmp_path / "in" / "a.wav"), "-o", str(tmp_path / "in")]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    monkeypatch.setenv("SIGDENOISE_CHECKPOINTS", str(tmp_path / "no-models"))
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "o")]) == 2
    assert "no model named 'speech'" in capsys.readouterr().err
    assert _tree_digest(tmp_path / "in") == before and not (tmp_path / "o").exists()
    with pytest.raises(BatchUsageError):
        BatchOptions(uncertainty=0)
    with pytest.raises(BatchUsageError, match="steps >= 2"):
        BatchOptions(uncertainty=4, steps=1)


def test_inputs_are_never_modified(tiny_model_env, tmp_path):
    _wav(tmp_path / "in" / "a.wav")
    _csv(tmp_path / "in" / "deep" / "b.csv", nan_at=(1,))
    np.save(tmp_path / "in" / "c.npy", np.ones((1, 300)))
    before = _tree_digest(tmp_path / "in")
    for _ in range(2):  # the rerun skips; neither run touches the inputs
        assert _run([tmp_path / "in"], tmp_path / "out", uncertainty=2, sample_rate=100.0).exit_code == 0
    assert _tree_digest(tmp_path / "in") == before


def test_folders_globs_and_files_mirror_under_the_output(tiny_model_env, tmp_path):
    _wav(tmp_path / "in" / "a" / "x.wav")
    _wav(tmp_path / "in" / "a" / "deep" / "y.wav")
    _csv(tmp_path / "in" / "b" / "z.csv")
    inputs = [f"{tmp_path}/in/a/**/*.wav", tmp_path / "in" / "b", tmp_path / "in" / "a" / "x.wav"]  # x.wav twice
    summary = _run(inputs, tmp_path / "out")
    assert summary.count("ok") == 3
    assert {str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.*")
            if p.suffix != ".jsonl" and not p.name.startswith(".")} == {
        "a/x.wav", "a/deep/y.wav", "b/z.csv"}


def test_the_manifest_survives_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps({"input": "/a", "status": "ok"}) + "\n" + '{"input": "/b", "sta')
    assert list(read_manifest(path)) == ["/a"]


# --------------------------------------------------------------------------- kill -9 and resume
@pytest.mark.slow
def test_kill_9_mid_batch_then_rerun_resumes(tiny_model_env, tmp_path):
    inputs = [_wav(tmp_path / "in" / f"take{i}.wav", seconds=3.0, seed=i) for i in range(8)]
    out = tmp_path / "out"
    env = {**os.environ, "SIGDENOISE_CHECKPOINTS": str(tiny_model_env), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "sigdenoise.cli", "denoise", str(tmp_path / "in"), "-o", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    helpers = []
    try:
        while time.monotonic() < deadline:
            manifest = out / "manifest.jsonl"
            if manifest.exists() and '"ok"' in manifest.read_text():
                break
            assert proc.poll() is None, "the batch ended before it could be killed"
            time.sleep(0.01)
        still_running = proc.poll() is None
        if psutil is not None:
            helpers = psutil.Process(proc.pid).children(recursive=True)  # fork server and workers
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert still_running
    if helpers:  # the workers notice and end too, so no orphan finishes a file behind the rerun's back
        gone, alive = psutil.wait_procs(helpers, timeout=10)
        assert not alive, alive
    done_before = {k for k, r in read_manifest(out / "manifest.jsonl").items() if r["status"] == "ok"}
    assert 1 <= len(done_before) < len(inputs)
    for path in out.glob("*.wav"):  # whatever exists after the kill is complete, never half-written
        assert read_audio(path).data.shape[1] == 48000
    (out / ".take7.abcd1234.tmp.wav").write_bytes(b"half a file")  # what a kill inside a write leaves
    with open(out / "manifest.jsonl", "a") as handle:
        handle.write('{"input": "' + str(inputs[-1]))  # and a kill inside the manifest append

    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--workers", "1"]) == 0
    last = read_manifest(out / "manifest.jsonl")
    assert {k for k, r in last.items() if r["status"] == "skipped"} == done_before
    assert {r["status"] for k, r in last.items() if k not in done_before} == {"ok"}
    assert len(last) == len(inputs) and not _temps(out)
    for src in inputs:
        assert read_audio(out / src.name).data.shape == read_audio(src).data.shape


# --------------------------------------------------------------------------- backends
def test_local_backend_never_imports_dask(tiny_model_env, tmp_path, monkeypatch):
    for name in ("dask", "distributed", "dask.distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # any import of them now fails
    _wav(tmp_path / "in" / "a.wav")
    summary = _run([tmp_path / "in"], tmp_path / "out", workers=None)  # the default: one per core, here 1 file
    assert summary.exit_code == 0 and summary.workers == 1


@pytest.mark.slow
def test_dask_backend_output_is_identical_to_the_local_pool(tiny_model_env, tmp_path):
    pytest.importorskip("dask.distributed")
    for i in range(3):
        _wav(tmp_path / "in" / f"v{i}.wav", seconds=0.5, seed=i)
    _csv(tmp_path / "in" / "log.csv", rows=800)
    _csv(tmp_path / "in" / "iso.tsv", rows=300, iso=True, sep="\t", rate=100.0)
    local = _run([tmp_path / "in"], tmp_path / "local", workers=2, seed=7, uncertainty=2)
    dask = _run([tmp_path / "in"], tmp_path / "dask", workers=2, seed=7, uncertainty=2, backend="dask")
    assert local.exit_code == dask.exit_code == 0 and local.count("ok") == dask.count("ok") == 5
    assert {r["input"] for r in dask.records} == {r["input"] for r in local.records}
    for path in (tmp_path / "local").rglob("*.*"):
        twin = tmp_path / "dask" / path.name
        if path.suffix == ".wav":  # float WAVs carry a write timestamp (libsndfile's PEAK chunk): compare samples
            a, b = read_audio(path), read_audio(twin)
            assert (a.sample_rate, a.subtype) == (b.sample_rate, b.subtype)
            np.testing.assert_array_equal(a.data, b.data)
        elif path.suffix not in (".jsonl", ".lock"):
            assert path.read_bytes() == twin.read_bytes(), path.name


@pytest.mark.slow
def test_every_local_pool_kind_writes_the_same_output(tiny_model_env, tmp_path, monkeypatch):
    # CPU runs fork this process (workers inherit the loaded models); GPU machines fork workers from a
    # clean fork server instead. Either way, and with one worker, the files must come out the same.
    for i in range(3):
        _wav(tmp_path / "in" / f"v{i}.wav", seconds=0.5, seed=i)
    one = _run([tmp_path / "in"], tmp_path / "one", workers=1, seed=3)
    forked = _run([tmp_path / "in"], tmp_path / "fork", workers=2, seed=3)
    monkeypatch.setattr(executors, "_can_fork_here", lambda options: False)
    served = _run([tmp_path / "in"], tmp_path / "server", workers=2, seed=3)
    assert one.exit_code == forked.exit_code == served.exit_code == 0
    for path in (tmp_path / "one").glob("*.wav"):
        expected = read_audio(path).data
        for other in ("fork", "server"):
            np.testing.assert_array_equal(read_audio(tmp_path / other / path.name).data, expected)


# --------------------------------------------------------------------------- never write over what is not ours
def test_a_glob_whose_output_lies_under_its_root_never_overwrites_an_input(tiny_model_env, tmp_path):
    a = _wav(tmp_path / "g" / "take.wav", seed=1)
    b = _wav(tmp_path / "g" / "sub" / "take.wav", seed=2)
    before = _tree_digest(tmp_path / "g")
    with pytest.raises(BatchUsageError, match="would overwrite the input"):
        _run([f"{tmp_path}/g/**/*.wav"], tmp_path / "g" / "sub")
    x = _wav(tmp_path / "x" / "a.wav", seed=3)
    inner = _wav(tmp_path / "x" / "out" / "a.wav", seed=4)
    with pytest.raises(BatchUsageError, match="would overwrite the input"):
        _run([x, inner], tmp_path / "x" / "out")
    assert _tree_digest(tmp_path / "g") == before and _sha(a) != _sha(b) and _sha(inner) != _sha(x)


def test_a_file_in_the_output_folder_that_no_run_wrote_is_never_replaced(tiny_model_env, tmp_path):
    _wav(tmp_path / "in" / "a.wav")
    foreign = _wav(tmp_path / "out" / "a.wav", seed=9)
    digest = _sha(foreign)
    with pytest.raises(BatchUsageError, match="not an output of an earlier run"):
        _run([tmp_path / "in"], tmp_path / "out")
    assert _sha(foreign) == digest
    # nested output folders: the outer run's file is not the inner run's to replace
    _wav(tmp_path / "in2" / "x.wav")
    _wav(tmp_path / "in2" / "sub" / "x.wav", seed=5)
    assert _run([tmp_path / "in2"], tmp_path / "n").exit_code == 0
    with pytest.raises(BatchUsageError, match="not an output of an earlier run"):
        _run([tmp_path / "in2" / "x.wav"], tmp_path / "n" / "sub", strength=0.5)
    # our own outputs are ours to replace, and a glob over the output folder does not take them as inputs
    assert _run([f"{tmp_path}/in2/**/*.wav"], tmp_path / "in2" / "clean").count("ok") == 2
    assert _run([f"{tmp_path}/in2/**/*.wav"], tmp_path / "in2" / "clean", seed=1).count("ok") == 2


def test_resume_skips_only_when_the_output_is_the_one_recorded(tiny_model_env, tmp_path):
    _wav(tmp_path / "in" / "a.wav")
    first = _run([tmp_path / "in"], tmp_path / "out")
    assert first.count("ok") == 1 and first.records[0]["output_sha256"] == _sha(tmp_path / "out" / "a.wav")
    assert _run([tmp_path / "in"], tmp_path / "out").count("skipped") == 1
    _wav(tmp_path / "out" / "a.wav", seed=8)  # someone (another run, another tool) replaced the output
    again = _run([tmp_path / "in"], tmp_path / "out")
    assert again.count("ok") == 1
    assert _sha(tmp_path / "out" / "a.wav") == first.records[0]["output_sha256"]


def test_the_sample_rate_option_is_only_for_files_without_a_rate(tiny_model_env, tmp_path):
    _wav(tmp_path / "in" / "a.wav")
    _csv(tmp_path / "in" / "log.csv", rows=600, rate=500.0)
    np.save(tmp_path / "in" / "bare.npy", np.ones((1, 300)))
    first = _run([tmp_path / "in"], tmp_path / "out", sample_rate=100.0)
    rates = {Path(r["input"]).name: (r["rate"], r["rate_from"]) for r in first.records}
    assert rates == {"a.wav": (16000.0, "file"), "log.csv": (500.0, "file"), "bare.npy": (100.0, "option")}
    second = _run([tmp_path / "in"], tmp_path / "out", sample_rate=250.0)  # only the NPY depends on it
    assert {Path(r["input"]).name: r["status"] for r in second.records} == {
        "a.wav": "skipped", "log.csv": "skipped", "bare.npy": "ok"}


def test_an_irregular_log_is_refused_not_regridded(tiny_model_env, tmp_path):
    t = np.cumsum(np.r_[0.0, np.random.default_rng(0).uniform(0.005, 0.02, 399)])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "jitter.csv").write_text("time,x\n" + "".join(f"{s:.4f},{np.sin(s):.5f}\n" for s in t))
    summary = _run([tmp_path / "in"], tmp_path / "out", sample_rate=100.0)
    error = summary.records[0]["error"]
    assert summary.count("failed") == 1 and "irregular" in error and "resample" in error
    assert "sample_rate" not in error and not (tmp_path / "out" / "jitter.csv").exists()


def test_npy_and_parquet_outputs_keep_shape_and_dtype(tiny_model_env, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "flat.npy", rng.standard_normal(3000).astype(np.float32))
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    t = np.arange(2000) / 500.0
    pq.write_table(pa.table({"time": t, "x": rng.standard_normal(2000).astype(np.float32),
                             "y": rng.standard_normal(2000)}), tmp_path / "in" / "log.parquet")
    assert _run([tmp_path / "in"], tmp_path / "out", sample_rate=500.0).count("ok") == 2
    flat = np.load(tmp_path / "out" / "flat.npy")
    assert flat.shape == (3000,) and flat.dtype == np.float32
    schema = pq.read_table(tmp_path / "out" / "log.parquet").schema
    assert schema.field("x").type == pa.float32() and schema.field("y").type == pa.float64()


# --------------------------------------------------------------------------- links, changing files, full disks
def test_link_loops_fail_one_input_and_folder_loops_end(tiny_model_env, tmp_path):
    import threading

    good = _wav(tmp_path / "in" / "good.wav")
    os.symlink(tmp_path / "in" / "b.wav", tmp_path / "in" / "a.wav")
    os.symlink(tmp_path / "in" / "a.wav", tmp_path / "in" / "b.wav")
    summary = _run([tmp_path / "in"], tmp_path / "out")
    status = {Path(r["input"]).name: r["status"] for r in summary.records}
    assert status == {"good.wav": "ok", "a.wav": "failed", "b.wav": "failed"}
    assert all("cannot be read" in r["error"] for r in summary.records if r["status"] == "failed")

    _wav(tmp_path / "loop" / "sub" / "x.wav")
    os.symlink(tmp_path / "loop", tmp_path / "loop" / "sub" / "back")
    found: list = []
    search = threading.Thread(target=lambda: found.append(batch.find_inputs([f"{tmp_path}/loop/**/*.wav"])),
                              daemon=True)
    search.start()
    search.join(20)
    assert found, "the glob search did not end on a folder loop"
    files, _, notes = found[0]
    assert [f.name for f in files] == ["x.wav"] and any("loop" in n for n in notes)
    assert good.exists()


def test_a_file_rewritten_while_it_is_read_is_not_recorded_as_done(tiny_model_env, tmp_path, monkeypatch):
    source = _wav(tmp_path / "in" / "a.wav", seconds=1.0)
    real = work._denoise_audio

    def rewrite_midway(job, model, options, progress=None):
        result = real(job, model, options, progress)
        _wav(source, seconds=0.5, seed=3)  # a recorder still writing the file
        return result

    monkeypatch.setattr(work, "_denoise_audio", rewrite_midway)
    summary = _run([tmp_path / "in"], tmp_path / "out")
    assert summary.count("failed") == 1 and "changed while it was being read" in summary.records[0]["error"]
    assert not (tmp_path / "out" / "a.wav").exists()
    monkeypatch.setattr(work, "_denoise_audio", real)
    assert _run([tmp_path / "in"], tmp_path / "out").count("ok") == 1


def test_a_full_disk_while_the_manifest_is_written_is_said_plainly(tiny_model_env, tmp_path, monkeypatch, capsys):
    import errno

    for i in range(2):
        _wav(tmp_path / "in" / f"v{i}.wav", seed=i)
    manifest = tmp_path / "out" / "manifest.jsonl"
    real_write, writes = os.write, []

    def full_after_first_record(fd, data):
        if os.path.realpath(f"/proc/self/fd/{fd}") == str(manifest):
            writes.append(data)
            if len(writes) >= 2:
                real_write(fd, bytes(data)[:20])  # part of the line reaches the disk
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_after_first_record)
    code = main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "disk full" in err and "Traceback" not in err and "Errno" not in err
    lines = manifest.read_text().splitlines(keepends=True)
    assert len(lines) == 1 and lines[0].endswith("\n") and json.loads(lines[0])["status"] == "ok"


def test_temp_files_of_a_lost_worker_and_the_lock_do_not_outlive_the_run(tiny_model_env, tmp_path, monkeypatch):
    _wav(tmp_path / "in" / "a.wav")
    real = runner._run_local

    def worker_killed_mid_write(jobs, options, workers, progress=None):
        for record in real(jobs, options, workers, progress):
            (tmp_path / "out" / ".log.k3j2.tmp.csv").write_text("half a file")  # the task then ran elsewhere
            yield record

    monkeypatch.setattr(runner, "_run_local", worker_killed_mid_write)
    summary = _run([tmp_path / "in"], tmp_path / "out")
    assert summary.exit_code == 0 and _temps(tmp_path / "out") == []
    assert not (tmp_path / "out" / batch.LOCK_NAME).exists()


def test_a_folder_named_like_a_file_is_searched_and_named_when_empty(tiny_model_env, tmp_path):
    _wav(tmp_path / "dir.wav" / "inside.wav")
    assert _run([tmp_path / "dir.wav"], tmp_path / "out").count("ok") == 1
    (tmp_path / "empty.wav").mkdir()
    with pytest.raises(BatchUsageError, match="empty.wav"):
        _run([tmp_path / "empty.wav"], tmp_path / "out2")


def test_warnings_about_a_result_reach_the_manifest_and_the_summary(tiny_model_env, tmp_path, monkeypatch):
    from sigdenoise import sanity

    _wav(tmp_path / "in" / "a.wav")
    monkeypatch.setattr(sanity, "output_warnings", lambda *a, **k: ["the output is 50 dB quieter than the input"])
    summary = _run([tmp_path / "in"], tmp_path / "out")
    assert summary.records[0]["output_warnings"] == ["the output is 50 dB quieter than the input"]
    assert "1 file(s) with a warning" in summary.describe() and "50 dB quieter" in summary.describe()


def test_a_streamed_csv_that_comes_out_erased_gets_a_warning(tiny_model_env, tmp_path, monkeypatch):
    src = _csv(tmp_path / "in" / "long.csv", rows=6000, rate=1000.0)
    monkeypatch.setattr(work, "_denoise_block", lambda model, data, **kw: (np.nan_to_num(data) * 1e-3, None))
    summary = _run([src], tmp_path / "out", csv_chunk_rows=700, segment_values=2000)
    record = summary.records[0]
    assert record["segments"] > 3 and "quieter" in record["output_warnings"][0], record


def test_progress_moves_within_one_long_file(tiny_model_env, tmp_path, monkeypatch):
    _wav(tmp_path / "in" / "long.wav", seconds=4.0)
    _csv(tmp_path / "in" / "log.csv", rows=4000)
    seen: list = []
    monkeypatch.setattr(runner._Progress, "within_file", lambda self, fraction: seen.append(fraction))
    _run([tmp_path / "in"], tmp_path / "out", csv_chunk_rows=1000, segment_values=2000)
    inside = [f for f in seen if 0 < f < 1]
    assert len(set(inside)) >= 4


def test_the_manifest_starts_a_fresh_line_after_a_cut_one(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps({"input": "/a", "status": "ok"}) + "\n" + '{"input": "/b", "sta')
    manifest = batch_manifest._Manifest(path)
    manifest.append({"input": "/c", "status": "ok"})
    manifest.close()
    assert list(read_manifest(path)) == ["/a", "/c"] and path.read_text().endswith("\n")
