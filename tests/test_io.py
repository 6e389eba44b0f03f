"""Files <-> arrays: audio and sensor-log round trips, rate detection, and every error path."""
from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sigdenoise.io as sio
from sigdenoise.io import (
    AUDIO_EXTENSIONS, SENSOR_EXTENSIONS, AudioClip, SensorLog, SignalFileError, atomic_write,
    iter_sensor_log_chunks, read_audio, read_sensor_log, read_signal, write_audio, write_sensor_log,
)

HYPO = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PCM_SUBTYPES = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 24}  # PCM_32 goes through float32: 24 bits survive


def _grid_signal(rng, channels: int, frames: int, bits: int) -> np.ndarray:
    """Samples exactly on the quantisation grid, so PCM round trips must be bit-exact."""
    scale = 2.0 ** (bits - 1)
    return (rng.integers(-scale, scale, size=(channels, frames)) / scale).astype(np.float32)


# --------------------------------------------------------------------------- audio
@HYPO
@given(ext_subtype=st.sampled_from([(".wav", "PCM_16"), (".wav", "PCM_24"), (".wav", "PCM_32"), (".wav", "FLOAT"),
                                    (".flac", "PCM_16"), (".flac", "PCM_24")]),
       channels=st.integers(1, 8), frames=st.integers(1, 400),
       rate=st.one_of(st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]), st.integers(1000, 192000)),
       seed=st.integers(0, 2 ** 16))
def test_lossless_audio_round_trip_is_exact(ext_subtype, channels, frames, rate, seed):
    ext, subtype = ext_subtype
    if ext == ".flac" and rate > 65535:
        rate -= rate % 10  # FLAC's rule; test_write_audio_rejects_rates_the_codec_cannot_store checks the error
    rng = np.random.default_rng(seed)
    if subtype == "FLOAT":
        x = rng.uniform(-1.5, 1.5, size=(channels, frames)).astype(np.float32)  # floats are not clipped
    else:
        x = _grid_signal(rng, channels, frames, PCM_SUBTYPES[subtype])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{ext}"
        write_audio(path, x, rate, subtype=subtype)
        clip = read_audio(path)
        assert (clip.sample_rate, clip.subtype, clip.data.dtype) == (rate, subtype, np.float32)
        np.testing.assert_array_equal(clip.data, x)
        again = Path(folder) / f"again{ext}"  # keep format and subtype by passing the clip's
        write_audio(again, clip.data, clip.sample_rate, format=clip.format, subtype=clip.subtype)
        assert path.read_bytes() == again.read_bytes()


@pytest.mark.parametrize("ext, rate, channels, subtype", [
    (".ogg", 44100, 2, "VORBIS"), (".ogg", 48000, 1, "OPUS"), (".opus", 16000, 3, "OPUS"),
    (".mp3", 44100, 2, "MPEG_LAYER_III"), (".mp3", 8000, 1, "MPEG_LAYER_III"),
])
def test_lossy_audio_keeps_rate_channels_subtype(tmp_path, ext, rate, channels, subtype):
    t = np.arange(rate // 2) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * (c + 1) * t) for c in range(channels)])
    write_audio(tmp_path / f"a{ext}", x, rate, subtype=subtype)
    clip = read_audio(tmp_path / f"a{ext}")
    assert (clip.sample_rate, clip.channels, clip.subtype) == (rate, channels, subtype)
    assert abs(clip.duration_s - 0.5) < 0.1
    write_audio(tmp_path / f"b{ext}", clip.data, clip.sample_rate, format=clip.format, subtype=clip.subtype)
    assert read_audio(tmp_path / f"b{ext}").subtype == subtype


@pytest.mark.parametrize("rate", [8000, 96000])
def test_audio_extreme_common_rates_and_default_subtype(tmp_path, rate):
    x = np.zeros((2, rate // 10), dtype=np.float32)
    write_audio(tmp_path / "a.wav", x, rate)
    clip = read_audio(tmp_path / "a.wav")
    assert (clip.sample_rate, clip.data.shape, clip.format, clip.subtype) == (rate, x.shape, "WAV", "PCM_16")


def test_wav_variants_keep_their_format(tmp_path):
    import soundfile

    soundfile.write(tmp_path / "x.wav", np.zeros((10, 3)), 16000, format="WAVEX", subtype="PCM_24")
    clip = read_audio(tmp_path / "x.wav")
    assert (clip.format, clip.subtype) == ("WAVEX", "PCM_24")
    write_audio(tmp_path / "y.wav", clip.data, clip.sample_rate, format=clip.format, subtype=clip.subtype)
    assert (read_audio(tmp_path / "y.wav").format, read_audio(tmp_path / "y.wav").channels) == ("WAVEX", 3)


def test_one_sample_and_mono_vector(tmp_path):
    write_audio(tmp_path / "one.flac", np.array([0.5]), 16000)
    clip = read_audio(tmp_path / "one.flac")
    assert clip.data.shape == (1, 1) and clip.data[0, 0] == 0.5


def test_float_wav_bytes_do_not_depend_on_the_clock(tmp_path):
    """libsndfile stamps float WAVs with the write time; the writer clears it."""
    write_audio(tmp_path / "a.wav", np.linspace(-1, 1, 50), 8000, subtype="FLOAT")
    data = (tmp_path / "a.wav").read_bytes()
    peak = data.index(b"PEAK")
    assert data[peak + 12:peak + 16] == b"\0\0\0\0"


def test_integer_subtypes_clip_and_float_does_not(tmp_path):
    x = np.array([[1.5, -2.0, 0.25]])
    write_audio(tmp_path / "i.wav", x, 8000, subtype="PCM_16")
    np.testing.assert_array_equal(read_audio(tmp_path / "i.wav").data, [[32767 / 32768, -1.0, 0.25]])
    write_audio(tmp_path / "f.wav", x, 8000, subtype="FLOAT")
    np.testing.assert_array_equal(read_audio(tmp_path / "f.wav").data, x.astype(np.float32))


@pytest.mark.parametrize("data, kwargs, words", [
    (np.full((1, 10), np.nan), {}, "NaN"),
    (np.zeros((1, 10), dtype=np.int16), {}, "dtype int16"),
    (np.zeros((1000, 2)), {}, "transpose"),
    (np.zeros((1, 2, 3)), {}, "shape"),
    (np.zeros(10), {"format": "FLAC"}, "does not match"),
    (np.zeros(10), {"subtype": "VORBIS"}, "cannot be written as WAV"),
])
def test_write_audio_rejects_bad_input_and_leaves_nothing(tmp_path, data, kwargs, words):
    with pytest.raises(SignalFileError, match=words) as info:
        write_audio(tmp_path / "out.wav", data, 16000, **kwargs)
    assert "out.wav" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, rate, channels, words", [
    ("o.opus", 44100, 1, "Opus cannot store 44100"), ("m.mp3", 96000, 1, "MP3"), ("m.mp3", 44100, 3, "MP3"),
    ("r.wav", 44100.5, 1, "whole number"), ("f.flac", 100001, 1, "multiple of 10"),
])
def test_write_audio_rejects_rates_the_codec_cannot_store(tmp_path, name, rate, channels, words):
    with pytest.raises(SignalFileError, match=words):
        write_audio(tmp_path / name, np.zeros((channels, 100)), rate)


# --------------------------------------------------------------------------- bad files
def _missing(folder: Path) -> Path:
    return folder / "missing.wav"


def _folder(folder: Path) -> Path:
    (folder / "folder.wav").mkdir()
    return folder / "folder.wav"


def _empty(folder: Path) -> Path:
    (folder / "empty.wav").write_bytes(b"")
    return folder / "empty.wav"


def _truncated(folder: Path) -> Path:
    write_audio(folder / "full.wav", np.zeros(1000), 16000)
    (folder / "cut.wav").write_bytes((folder / "full.wav").read_bytes()[:20])
    return folder / "cut.wav"


def _junk(folder: Path) -> Path:
    (folder / "junk.flac").write_bytes(b"not audio at all" * 10)
    return folder / "junk.flac"


@pytest.mark.parametrize("make, words", [(_missing, "file not found"), (_folder, "is a folder"), (_empty, "empty"),
                                         (_truncated, "cannot be decoded"), (_junk, "cannot be decoded")])
def test_read_audio_errors_name_file_and_problem(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(SignalFileError, match=words) as info:
        read_audio(path)
    assert str(path) in str(info.value) and info.value.path == str(path)


@pytest.mark.parametrize("name", ["empty.csv", "empty.npy", "empty.npz", "empty.parquet", "empty.h5", "empty.mat",
                                  "empty.tdms"])
def test_empty_sensor_files(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(SignalFileError, match="empty"):
        read_sensor_log(tmp_path / name, sample_rate=10)


@pytest.mark.parametrize("name", ["bad.npy", "bad.npz", "bad.parquet", "bad.h5", "bad.mat", "bad.tdms"])
def test_corrupt_sensor_files(tmp_path, name):
    for module in {"parquet": "pyarrow", "h5": "h5py", "tdms": "nptdms"}.get(name.split(".")[1], "").split():
        pytest.importorskip(module)
    (tmp_path / name).write_bytes(b"\x93NUMPY garbage \x00\x01" * 8)
    with pytest.raises(SignalFileError, match="bad") as info:
        read_sensor_log(tmp_path / name, sample_rate=10)
    assert "corrupt" in str(info.value) or "not a readable" in str(info.value)


def test_unknown_extension_lists_supported(tmp_path):
    (tmp_path / "x.xyz").write_text("1,2")
    with pytest.raises(SignalFileError, match=r"\.csv.*\.wav|\.wav.*\.csv"):
        read_signal(tmp_path / "x.xyz")
    with pytest.raises(SignalFileError, match=".flac"):
        write_audio(tmp_path / "y.xyz", np.zeros(3), 8000)
    with pytest.raises(SignalFileError, match="read_audio"):
        read_sensor_log(tmp_path / "z.wav")
    assert ".wav" in AUDIO_EXTENSIONS and ".csv" in SENSOR_EXTENSIONS and not AUDIO_EXTENSIONS & SENSOR_EXTENSIONS


def test_permission_denied_is_a_signal_file_error(tmp_path, monkeypatch):
    path = tmp_path / "a.csv"
    path.write_text("time,x\n0,1\n1,2\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sio.common, "open", denied, raising=False)  # works as root too, unlike chmod
    with pytest.raises(SignalFileError, match="permission denied"):
        read_sensor_log(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied_for_real(tmp_path):
    path = tmp_path / "a.wav"
    write_audio(path, np.zeros(10), 8000)
    path.chmod(0)
    with pytest.raises(SignalFileError, match="permission denied"):
        read_audio(path)


# --------------------------------------------------------------------------- atomic writes
def test_atomic_write_cleans_up_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(path, fail)
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    path.chmod(0o640)
    atomic_write(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new" and (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_bad_targets(tmp_path):
    with pytest.raises(SignalFileError, match="does not exist"):
        atomic_write(tmp_path / "no" / "x.csv", lambda tmp: None)
    with pytest.raises(SignalFileError, match="is a folder"):
        atomic_write(tmp_path, lambda tmp: None)


def test_failed_audio_write_never_touches_input_or_leaves_temp(tmp_path, monkeypatch):
    import soundfile

    path = tmp_path / "in.wav"
    write_audio(path, np.full(100, 0.25), 8000)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    clip = read_audio(path)
    write_audio(tmp_path / "out.wav", clip.data, clip.sample_rate)  # reading and writing elsewhere
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime

    def broken(file, *args, **kwargs):
        Path(file).write_bytes(b"RIFF partial")
        raise RuntimeError("disk went away")

    monkeypatch.setattr(soundfile, "write", broken)
    with pytest.raises(SignalFileError, match="disk went away"):
        write_audio(path, np.zeros(100), 8000)  # over the input itself
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


# --------------------------------------------------------------------------- CSV
def test_csv_numeric_time_and_nan_cells(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("time,temp_C,pressure\n0.00,20.5,1.0\n0.01,,1.5\n0.02,NaN,\n0.03,21.0,2.5\n")
    log = read_sensor_log(path)
    assert log.sample_rate == 100.0 and log.channel_names == ["temp_C", "pressure"] and log.start_time is None
    np.testing.assert_array_equal(log.data, [[20.5, np.nan, np.nan, 21.0], [1.0, 1.5, np.nan, 2.5]])
    assert log.data.dtype == np.float64 and log.metadata["time_column"] == "time"
    write_sensor_log(tmp_path / "out.csv", log)
    assert (tmp_path / "out.csv").read_text() == (
        "time,temp_C,pressure\n0.00,20.5,1.0\n0.01,,1.5\n0.02,,\n0.03,21.0,2.5\n")


def test_csv_iso_time_round_trips_text_exactly(tmp_path):
    text = ("# line 7, sensor 3\ntimestamp;accel_x;accel_y\n"
            "2024-05-14 09:30:00.000+02:00;0.5;1.25\n2024-05-14 09:30:00.250+02:00;;1.5\n"
            "2024-05-14 09:30:00.500+02:00;0.75;-0.5\n")
    (tmp_path / "in.csv").write_text(text)
    log = read_sensor_log(tmp_path / "in.csv")
    assert log.sample_rate == 4.0 and log.start_time == "2024-05-14T09:30:00.000+02:00"
    assert log.metadata["header_comments"] == ["# line 7, sensor 3"] and log.metadata["delimiter"] == ";"
    write_sensor_log(tmp_path / "out.csv", log)
    assert (tmp_path / "out.csv").read_text() == text


def test_csv_rate_from_millisecond_rounded_timestamps(tmp_path):
    """64 Hz logged to the ms gives 15/16 ms steps: regular within rounding, and exactly 64 Hz."""
    stamps = np.datetime64("2024-01-01T00:00:00", "ns") + np.round(np.arange(640) * 1e9 / 64).astype("timedelta64[ns]")
    rows = [f"{np.datetime_as_string(s, unit='ms')},{i}" for i, s in enumerate(stamps)]
    (tmp_path / "a.csv").write_text("datetime,v\n" + "\n".join(rows) + "\n")
    log = read_sensor_log(tmp_path / "a.csv")
    assert log.sample_rate == 64.0 and log.data.shape == (1, 640)


def test_csv_time_units_from_the_column_name(tmp_path):
    (tmp_path / "a.csv").write_text("time_ms,v\n100,1\n102,2\n104,3\n")
    assert read_sensor_log(tmp_path / "a.csv").sample_rate == 500.0
    (tmp_path / "b.csv").write_text("Zeit [ms],v\n0,1\n5,2\n10,3\n")
    assert read_sensor_log(tmp_path / "b.csv", time_column="Zeit [ms]").sample_rate == 200.0


def test_csv_without_time_needs_sample_rate(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n5,\n")
    with pytest.raises(SignalFileError, match="pass sample_rate="):
        read_sensor_log(tmp_path / "a.csv")
    log = read_sensor_log(tmp_path / "a.csv", sample_rate=250)
    assert log.sample_rate == 250.0 and log.channel_names == ["x", "y"] and np.isnan(log.data[1, 2])
    write_sensor_log(tmp_path / "b.csv", log)  # no time column in, none out
    assert (tmp_path / "b.csv").read_text() == "x,y\n1.0,2.0\n3.0,4.0\n5.0,\n"


def test_headerless_numeric_csv(tmp_path):
    (tmp_path / "a.csv").write_text("0.5,1.5\n2.5,3.5\n")
    log = read_sensor_log(tmp_path / "a.csv", sample_rate=10)
    assert log.channel_names == ["ch0", "ch1"] and log.data.tolist() == [[0.5, 2.5], [1.5, 3.5]]


def test_irregular_time_is_an_error_unless_a_rate_is_given(tmp_path):
    (tmp_path / "a.csv").write_text("t,v\n0.0,1\n0.1,2\n0.2,3\n0.5,4\n0.6,5\n")
    with pytest.raises(SignalFileError, match="irregular.*data rows 3 and 4.*pass sample_rate="):
        read_sensor_log(tmp_path / "a.csv")
    with pytest.warns(UserWarning, match="irregular"):
        assert read_sensor_log(tmp_path / "a.csv", sample_rate=10).sample_rate == 10.0
    (tmp_path / "b.csv").write_text("t,v\n0.0,1\n0.1,2\n0.1,3\n")
    with pytest.raises(SignalFileError, match="does not increase"):
        read_sensor_log(tmp_path / "b.csv")


@pytest.mark.parametrize("text, kwargs, words", [
    ("time,label\n0,a\n1,b\n", {}, "no numeric value columns"),
    ("time,v\n0,1\n1,oops\n2,3\n", {}, "'v' is not numeric.*row 2"),
    ("time,v\n", {}, "no data rows"),
    ("time,v\n0,1\n", {}, "pass sample_rate="),
    ("time,v\nmonday,1\ntuesday,2\n", {}, "neither numbers nor ISO-8601"),
    ("time,v\n0,1\n1,2\n", {"columns": ["w"]}, r"\['w'\] are not in the file"),
    ("time,v\n0,1\n1,2\n", {"time_column": "when"}, "not a column"),
    ("time,v\n0,1\n1,2\n", {"dataset": "x"}, "does not apply"),
    ("time,v\n0,1\n,2\n", {}, "empty at data row 2"),
])
def test_csv_errors(tmp_path, text, kwargs, words):
    (tmp_path / "a.csv").write_text(text)
    with pytest.raises(SignalFileError, match=words):
        read_sensor_log(tmp_path / "a.csv", **kwargs)


def test_csv_skips_text_columns_with_a_warning_and_columns_selects(tmp_path):
    (tmp_path / "a.csv").write_text("time,machine,a,b\n0,m1,1,2\n1,m1,3,4\n")
    with pytest.warns(UserWarning, match="machine"):
        assert read_sensor_log(tmp_path / "a.csv").channel_names == ["a", "b"]
    log = read_sensor_log(tmp_path / "a.csv", columns=["b"])
    assert log.channel_names == ["b"] and log.data.tolist() == [[2.0, 4.0]]


def test_csv_streams_in_chunks_and_checks_late_rows(tmp_path, monkeypatch):
    n = 50
    rows = "\n".join(f"2024-01-01T00:00:{i // 10:02d}.{i % 10}Z,{i},{-i}" for i in range(n))
    (tmp_path / "a.csv").write_text("timestamp,a,b\n" + rows + "\n")
    pieces = list(iter_sensor_log_chunks(tmp_path / "a.csv", chunk_rows=7))
    assert [p.data.shape[1] for p in pieces] == [7] * 7 + [1]
    assert {p.sample_rate for p in pieces} == {10.0} and all(p.channel_names == ["a", "b"] for p in pieces)
    assert pieces[1].start_time == "2024-01-01T00:00:00.7Z" and pieces[1].metadata["first_sample"] == 7
    whole = read_sensor_log(tmp_path / "a.csv")
    np.testing.assert_array_equal(np.concatenate([p.data for p in pieces], axis=1), whole.data)
    # the rate comes from the first rows only; a gap further on is still caught while streaming
    monkeypatch.setattr(sio.csv_log, "_HEAD_ROWS", 10)
    lines = (tmp_path / "a.csv").read_text().splitlines()
    del lines[31]
    (tmp_path / "gap.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(SignalFileError, match="irregular.*data rows 30 and 31"):
        list(iter_sensor_log_chunks(tmp_path / "gap.csv", chunk_rows=7))
    lines[40] = lines[40].replace(",40,", ",x,")
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(SignalFileError, match="'a' holds 'x'"):
        read_sensor_log(tmp_path / "bad.csv", sample_rate=10)


@HYPO
@given(channels=st.integers(1, 4), frames=st.integers(2, 60),
       rate=st.sampled_from([0.5, 1.0, 50.0, 64.0, 360.0, 1000.0]),
       style=st.sampled_from(["seconds", "iso", "none"]), seed=st.integers(0, 2 ** 16))
def test_csv_round_trip_property(channels, frames, rate, style, seed):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(channels, frames)) * 10.0 ** rng.integers(-3, 4)
    data[rng.random(data.shape) < 0.1] = np.nan
    start = "2023-12-31T23:59:58.5+05:30" if style == "iso" else None
    meta = {"time_format": style, "format": "csv"} if style == "none" else {}
    log = SensorLog(data, rate, [f"s{i}" for i in range(channels)], start, meta)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.csv"
        write_sensor_log(path, log, extra_channels={"s0_std": np.abs(data[0])})
        back = read_sensor_log(path, sample_rate=rate if style == "none" else None)
    assert back.sample_rate == rate and back.channel_names == log.channel_names + ["s0_std"]
    np.testing.assert_array_equal(back.data[:channels], data)
    if style == "iso":
        assert back.start_time.startswith("2023-12-31T23:59:58.5") and back.start_time.endswith("+05:30")


def test_extra_channels_must_fit(tmp_path):
    log = SensorLog(np.zeros((1, 5)), 10.0, ["a"])
    with pytest.raises(SignalFileError, match="5"):
        write_sensor_log(tmp_path / "a.csv", log, extra_channels={"a_std": np.zeros(4)})
    with pytest.raises(SignalFileError, match="clashes"):
        write_sensor_log(tmp_path / "a.csv", log, extra_channels={"a": np.zeros(5)})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- NPY / NPZ
def test_npy(tmp_path):
    np.save(tmp_path / "one.npy", np.arange(5.0))
    log = read_sensor_log(tmp_path / "one.npy", sample_rate=2)
    assert log.data.shape == (1, 5) and log.channel_names == ["ch0"] and log.sample_rate == 2.0
    with pytest.raises(SignalFileError, match="pass sample_rate="):
        read_sensor_log(tmp_path / "one.npy")
    np.save(tmp_path / "tall.npy", np.zeros((1000, 3)))
    with pytest.raises(SignalFileError, match="transpose"):
        read_sensor_log(tmp_path / "tall.npy", sample_rate=2)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(SignalFileError, match="obj.npy"):
        read_sensor_log(tmp_path / "obj.npy", sample_rate=2)
    data = np.random.default_rng(0).normal(size=(3, 100))
    write_sensor_log(tmp_path / "w.npy", SensorLog(data, 5.0, ["a", "b", "c"]))
    pieces = list(iter_sensor_log_chunks(tmp_path / "w.npy", chunk_rows=40, sample_rate=5, columns=["ch2", "ch0"]))
    np.testing.assert_array_equal(np.concatenate([p.data for p in pieces], axis=1), data[[2, 0]])


def test_npz(tmp_path):
    data = np.random.default_rng(1).normal(size=(2, 30))
    data[1, 3] = np.nan
    log = SensorLog(data, 12.5, ["x", "y"], "2024-01-01T00:00:00Z")
    write_sensor_log(tmp_path / "a.npz", log)
    back = read_sensor_log(tmp_path / "a.npz")
    assert (back.sample_rate, back.channel_names, back.start_time) == (12.5, ["x", "y"], "2024-01-01T00:00:00Z")
    np.testing.assert_array_equal(back.data, data)
    np.savez(tmp_path / "plain.npz", signal=np.arange(4.0))  # no "data" key, no rate
    assert read_sensor_log(tmp_path / "plain.npz", sample_rate=1).data.tolist() == [[0, 1, 2, 3]]
    with pytest.raises(SignalFileError, match="pass sample_rate="):
        read_sensor_log(tmp_path / "plain.npz")


# --------------------------------------------------------------------------- optional formats
def _log_with_gaps() -> SensorLog:
    data = np.random.default_rng(2).normal(size=(2, 64))
    data[0, 10:14] = np.nan
    return SensorLog(data, 32.0, ["accel_x", "accel_y"], "2024-05-14T09:30:00.000+02:00")


@pytest.mark.parametrize("ext, module", [(".parquet", "pyarrow"), (".h5", "h5py"), (".hdf5", "h5py"),
                                         (".mat", "scipy.io"), (".tdms", "nptdms")])
def test_optional_format_round_trip(tmp_path, ext, module):
    pytest.importorskip(module)
    log = _log_with_gaps()
    write_sensor_log(tmp_path / f"a{ext}", log, extra_channels={"accel_x_std": np.ones(64)})
    back = read_sensor_log(tmp_path / f"a{ext}")
    assert back.sample_rate == 32.0 and back.channel_names == ["accel_x", "accel_y", "accel_x_std"]
    np.testing.assert_array_equal(back.data[:2], log.data)
    assert back.start_time.startswith("2024-05-14T0") and back.data.dtype == np.float64
    write_sensor_log(tmp_path / "again.csv", back)
    assert read_sensor_log(tmp_path / "again.csv").sample_rate == 32.0


def test_parquet_written_by_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=20, freq="10ms", tz="UTC"),
                          "v": np.arange(20.0), "note": ["ok"] * 20})
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.warns(UserWarning, match="note"):
        log = read_sensor_log(tmp_path / "a.parquet")
    assert log.sample_rate == 100.0 and log.channel_names == ["v"] and log.start_time.endswith("Z")


def test_parquet_and_tdms_give_their_own_time_column_back(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    irregular = np.array([0.0, 0.1, 0.2, 0.5, 0.6, 0.7])  # kept as it was, even when a rate is given
    stamps = pd.to_datetime(["2024-03-31T00:59:59.000", "2024-03-31T00:59:59.500", "2024-03-31T01:00:00.000",
                             "2024-03-31T01:00:00.500"]).tz_localize("UTC").tz_convert("Europe/Berlin")
    cases = [(pd.DataFrame({"t_s": irregular, "v": np.arange(6.0, dtype=np.float32)}), {"sample_rate": 10.0}),
             (pd.DataFrame({"when": stamps, "v": np.arange(4.0)}), {})]
    for k, (frame, kw) in enumerate(cases):
        frame.to_parquet(tmp_path / f"{k}.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "irregular": the rate is the caller's
            log = read_sensor_log(tmp_path / f"{k}.parquet", **kw)
        write_sensor_log(tmp_path / f"{k}.out.parquet", dataclasses.replace(log, data=log.data * 2))
        back = pd.read_parquet(tmp_path / f"{k}.out.parquet")
        assert back.columns[0] == frame.columns[0] and back.iloc[:, 0].equals(frame.iloc[:, 0])
        assert back["v"].tolist() == (frame["v"] * 2).tolist()
    nptdms = pytest.importorskip("nptdms")
    with nptdms.TdmsWriter(str(tmp_path / "a.tdms")) as writer:
        writer.write_segment([nptdms.ChannelObject("g", "time", irregular), nptdms.ChannelObject("g", "v", np.ones(6))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = read_sensor_log(tmp_path / "a.tdms", sample_rate=10.0)
    write_sensor_log(tmp_path / "b.tdms", log)
    channels = nptdms.TdmsFile.read(tmp_path / "b.tdms")["g"].channels()
    assert [c.name for c in channels] == ["time", "v"] and channels[0][:].tolist() == irregular.tolist()


def test_hdf5_written_by_h5py(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.attrs["fs"] = 250.0
        f.create_dataset("run1/accel", data=np.zeros((3, 40)))
        f.create_dataset("run1/gyro", data=np.ones((3, 40)))
    with pytest.raises(SignalFileError, match="pass dataset="):
        read_sensor_log(tmp_path / "a.h5")
    log = read_sensor_log(tmp_path / "a.h5", dataset="run1/gyro")
    assert log.sample_rate == 250.0 and log.data.shape == (3, 40) and log.data.max() == 1.0


def test_mat_v5_and_v73(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    scipy_io.savemat(tmp_path / "v5.mat", {"emg": np.arange(20.0).reshape(10, 2), "Fs": 1000.0})
    log = read_sensor_log(tmp_path / "v5.mat")  # MATLAB: one column per channel
    assert log.sample_rate == 1000.0 and log.data.tolist() == [list(range(0, 20, 2)), list(range(1, 20, 2))]
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "v73.mat", "w", userblock_size=512) as f:
        f.create_dataset("data", data=np.arange(20.0).reshape(10, 2).T)  # how MATLAB lays out a 10x2 matrix
        f.create_dataset("fs", data=np.array([[500.0]]))
    with open(tmp_path / "v73.mat", "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    log = read_sensor_log(tmp_path / "v73.mat")
    assert log.sample_rate == 500.0 and log.data.tolist() == [list(range(0, 20, 2)), list(range(1, 20, 2))]


def test_tdms_written_by_nptdms(tmp_path):
    nptdms = pytest.importorskip("nptdms")
    with nptdms.TdmsWriter(str(tmp_path / "a.tdms")) as writer:
        writer.write_segment([nptdms.ChannelObject("Vib", name, np.arange(8.0) * k, properties={"wf_increment": 0.001})
                              for k, name in ((1, "x"), (2, "y"))] + [nptdms.ChannelObject("Temp", "t1", np.ones(3))])
    with pytest.raises(SignalFileError, match="pass dataset="):
        read_sensor_log(tmp_path / "a.tdms")
    log = read_sensor_log(tmp_path / "a.tdms", dataset="Vib")
    assert log.sample_rate == 1000.0 and log.channel_names == ["x", "y"] and log.data[1, 3] == 6.0
    assert read_sensor_log(tmp_path / "a.tdms", dataset="Vib/y").channel_names == ["y"]


# --------------------------------------------------------------------------- dispatch
def test_read_signal_dispatches(tmp_path):
    write_audio(tmp_path / "a.wav", np.zeros(8), 8000)
    write_sensor_log(tmp_path / "b.npz", SensorLog(np.zeros((1, 8)), 8.0, ["v"]))
    assert isinstance(read_signal(tmp_path / "a.wav"), AudioClip)
    assert isinstance(read_signal(tmp_path / "b.npz"), SensorLog)
    with pytest.raises(TypeError, match="no options"):
        read_signal(tmp_path / "a.wav", sample_rate=8000)


def test_shipped_samples_read():
    folder = Path(__file__).resolve().parent.parent / "samples"
    if not folder.is_dir():
        pytest.skip("no samples folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the samples must read cleanly
        for path in sorted(folder.iterdir()):
            if path.suffix in AUDIO_EXTENSIONS | SENSOR_EXTENSIONS:
                signal = read_signal(path)
                assert signal.data.shape[-1] > 0 and path.stat().st_size < 500_000


def test_denoised_csv_keeps_digits_for_the_signal_not_for_float64(tmp_path):
    rng = np.random.default_rng(5)
    data = np.stack([1000 + 300 * rng.standard_normal(500), 1e-3 * rng.standard_normal(500)])
    data[0, 7] = np.nan
    log = SensorLog(data, 100.0, ["pressure", "tiny"])
    write_sensor_log(tmp_path / "exact.csv", log)
    write_sensor_log(tmp_path / "short.csv", log, digits=7)
    exact, short = read_sensor_log(tmp_path / "exact.csv"), read_sensor_log(tmp_path / "short.csv")
    np.testing.assert_array_equal(exact.data, data)  # without digits: every float as it was
    assert np.isnan(short.data[0, 7])
    error = np.nanmax(np.abs(short.data - data), axis=1)
    assert (error <= 1e-6 * np.nanstd(data, axis=1)).all()  # 7 significant digits of each column's spread
    assert (tmp_path / "short.csv").stat().st_size < 0.7 * (tmp_path / "exact.csv").stat().st_size


# --------------------------------------------------------------------------- what the user handed in comes back
def test_mp3_keeps_the_input_bit_rate(tmp_path):
    import soundfile as sf

    x = (0.1 * np.random.default_rng(0).standard_normal((16000 * 3, 1))).astype(np.float32)
    sf.write(tmp_path / "in.mp3", x, 16000, format="MP3", subtype="MPEG_LAYER_III", compression_level=0.63,
             bitrate_mode="CONSTANT")  # 64 kbit/s
    clip = sio.read_audio(tmp_path / "in.mp3")
    assert clip.bitrate == pytest.approx(64, rel=0.1)
    sio.write_audio(tmp_path / "out.mp3", clip.data, clip.sample_rate, format=clip.format, subtype=clip.subtype,
                    bitrate=clip.bitrate)
    assert sio.read_audio(tmp_path / "out.mp3").bitrate == pytest.approx(clip.bitrate, rel=0.05)


def test_denoise_file_keeps_the_mp3_bit_rate(tiny_model, tmp_path):
    import soundfile as sf

    from sigdenoise import denoise_file

    x = (0.1 * np.random.default_rng(1).standard_normal((16000 * 2, 1))).astype(np.float32)
    sf.write(tmp_path / "in.mp3", x, 16000, format="MP3", subtype="MPEG_LAYER_III", compression_level=0.2,
             bitrate_mode="CONSTANT")
    denoise_file(tmp_path / "in.mp3", tmp_path / "out.mp3", model=tiny_model)
    kbps = sio.read_audio(tmp_path / "in.mp3").bitrate
    assert sio.read_audio(tmp_path / "out.mp3").bitrate == pytest.approx(kbps, rel=0.05)


def test_a_full_disk_is_called_a_full_disk_not_a_format_problem(tmp_path, monkeypatch):
    import soundfile as sf

    def no_space(*args, **kwargs):
        raise RuntimeError("Error : System error : No space left on device.")

    monkeypatch.setattr(sf, "write", no_space)
    with pytest.raises(sio.SignalFileError) as caught:
        sio.write_audio(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    assert "disk is full" in str(caught.value) and "another format" not in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_a_csv_gets_its_own_time_strings_back(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(500) * 0.004 + rng.uniform(-1.5e-5, 1.5e-5, 500)  # a logger's clock, jittering well within 1 %
    times = [f"{v:.5f}" for v in t]
    (tmp_path / "in.csv").write_text("t,x\n" + "".join(f"{s},{rng.standard_normal():.4f}\n" for s in times))
    log = sio.read_sensor_log(tmp_path / "in.csv")
    sio.write_denoised_log(tmp_path / "out.csv", log)
    assert [line.split(",")[0] for line in (tmp_path / "out.csv").read_text().splitlines()[1:]] == times
    pieces = list(sio.iter_sensor_log_chunks(tmp_path / "in.csv", chunk_rows=128))
    assert np.concatenate([p.metadata["time_values"] for p in pieces]).tolist() == times


def test_npy_comes_back_in_its_shape_and_dtype(tmp_path):
    np.save(tmp_path / "in.npy", np.arange(300, dtype=np.float32))
    log = sio.read_sensor_log(tmp_path / "in.npy", sample_rate=100)
    sio.write_denoised_log(tmp_path / "out.npy", log)
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (300,) and out.dtype == np.float32 and np.array_equal(out, np.arange(300))


def test_file_errors_name_each_front_ends_own_option(tmp_path):
    from sigdenoise.options import message_for

    np.save(tmp_path / "bare.npy", np.ones(30))
    with pytest.raises(sio.NoRateError) as caught:
        sio.read_sensor_log(tmp_path / "bare.npy")
    assert "sample_rate=" in str(caught.value)
    assert "--sample-rate" in message_for(caught.value, "cli") and "sample_rate=" not in message_for(caught.value,
                                                                                                     "cli")
