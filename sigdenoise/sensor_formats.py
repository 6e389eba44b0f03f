"""Readers for the file formats the sensor sources ship, all from bytes, none executing the file.

mini-SEED (Steim-2), the UCR/UEA ``.ts`` and ``.txt`` archives, Daphnet's CSV, Vallen's ``.tradb``
(SQLite with raw samples) and numpy arrays inside a pickle, through an unpickler that may build numpy
arrays and nothing else.
"""
from __future__ import annotations

import struct

import numpy as np


def _steim2_differences(words: np.ndarray) -> tuple[list[int], int, int]:
    """Decode Steim-2 frames ``[frames, 16]`` (uint32) into differences, X0 and Xn (SEED manual, App. B)."""
    def signed(value: int, bits: int) -> int:
        value &= (1 << bits) - 1
        return value - (1 << bits) if value >> (bits - 1) else value

    # (control code, dnib) -> (bits per difference, shifts of each difference)
    layouts = {(1, None): (8, (24, 16, 8, 0)), (2, 1): (30, (0,)), (2, 2): (15, (15, 0)), (2, 3): (10, (20, 10, 0)),
               (3, 0): (6, (24, 18, 12, 6, 0)), (3, 1): (5, (25, 20, 15, 10, 5, 0)),
               (3, 2): (4, (24, 20, 16, 12, 8, 4, 0))}
    diffs: list[int] = []
    first = last = 0
    for f, frame in enumerate(words.tolist()):
        control = frame[0]
        for i in range(1, 16):
            code = (control >> (30 - 2 * i)) & 3
            word = frame[i]
            if f == 0 and i == 1:
                first = signed(word, 32)
                continue
            if f == 0 and i == 2:
                last = signed(word, 32)
                continue
            if code == 0:
                continue
            key = (1, None) if code == 1 else (code, word >> 30)
            if key not in layouts:
                raise ValueError(f"invalid Steim-2 word (control {code}, dnib {word >> 30})")
            bits, shifts = layouts[key]
            diffs.extend(signed(word >> s, bits) for s in shifts)
    return diffs, first, last


def _seed_rate(factor: int, multiplier: int) -> float:
    """Sample rate from a SEED header's factor and multiplier (negative means 'divide by')."""
    rate = float(factor) if factor > 0 else (-1.0 / factor if factor < 0 else 0.0)
    return rate * multiplier if multiplier > 0 else (rate / -multiplier if multiplier < 0 else rate)


def read_miniseed(blob: bytes) -> dict[str, tuple[np.ndarray, float]]:
    """Steim-2 mini-SEED records -> ``{"NET.STA.LOC.CHA": (int64 samples, rate in Hz)}``.

    Each record is checked against its own last-sample constant (Xn), so a misread fails
    loudly. Records of one channel are joined in file order; other encodings raise.
    """
    out: dict[str, list] = {}
    pos = 0
    while pos + 48 <= len(blob):
        header = blob[pos:pos + 48]
        station, location, channel, network = (header[8:13].decode().strip(), header[13:15].decode().strip(),
                                               header[15:18].decode().strip(), header[18:20].decode().strip())
        count, factor, multiplier = struct.unpack(">Hhh", header[30:36])
        data_offset, blockette = struct.unpack(">HH", header[44:48])
        encoding, big_endian, length = None, True, None
        while blockette:
            kind, following = struct.unpack(">HH", blob[pos + blockette:pos + blockette + 4])
            if kind == 1000:
                encoding, order, power = blob[pos + blockette + 4:pos + blockette + 7]
                big_endian, length = order == 1, 1 << power
            blockette = following
        if length is None:
            raise ValueError(f"mini-SEED record at byte {pos} has no blockette 1000")
        if encoding != 11:
            raise ValueError(f"mini-SEED encoding {encoding} is not supported (only Steim-2, 11)")
        rate = _seed_rate(factor, multiplier)
        words = np.frombuffer(blob[pos + data_offset:pos + length], ">u4" if big_endian else "<u4")
        words = words[:words.size // 16 * 16].reshape(-1, 16)
        diffs, first, last = _steim2_differences(words)
        samples = first + np.cumsum(np.array([0] + diffs[1:count], np.int64))
        if samples.size != count or samples[-1] != last:
            raise ValueError(f"mini-SEED record at byte {pos}: Steim-2 decode does not match its own checks")
        out.setdefault(".".join((network, station, location, channel)), []).append((samples, float(rate)))
        pos += length
    return {key: (np.concatenate([s for s, _ in parts]), parts[0][1]) for key, parts in out.items()}


def read_ts(text: str) -> list[np.ndarray]:
    """sktime/aeon ``.ts`` text -> one ``[dimensions, length]`` float array per case (class label dropped)."""
    cases = []
    in_data = labelled = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tag = line.lower().split()
        if tag[0] in ("@classlabel", "@targetlabel"):
            labelled = len(tag) > 1 and tag[1] == "true"
        if tag[0] == "@data":
            in_data = True
            continue
        if line.startswith("@") or not in_data:
            continue
        dims = line.split(":")
        if labelled:
            dims = dims[:-1]  # the last field is the class label (or regression target)
        rows = [np.array([float(v) if v not in ("?", "NaN") else np.nan for v in d.split(",")]) for d in dims]
        length = min(r.size for r in rows)
        cases.append(np.stack([r[:length] for r in rows]))
    return cases


def read_ucr_txt(text: str) -> np.ndarray:
    """UCR archive text (one case per line: label, then values) -> ``[cases, length]`` (labels dropped)."""
    return np.array([[float(v) for v in line.split()[1:]] for line in text.splitlines() if line.strip()])


def read_daphnet_csv(text: str) -> tuple[list[str], np.ndarray, float]:
    """aeon's Daphnet CSV (timestamp, 9 accelerometer axes, is_anomaly) -> (axis names, ``[9, n]``, rate in Hz)."""
    lines = text.strip().splitlines()
    names = lines[0].split(",")[1:-1]
    rows = [line.split(",") for line in lines[1:]]
    data = np.array([[float(v) for v in r[1:-1]] for r in rows]).T

    def seconds(stamp: str) -> float:
        clock = stamp.split(" ")[1]
        h, m, s = clock.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    span = seconds(rows[-1][0]) - seconds(rows[0][0])
    return names, data, round((len(rows) - 1) / span, 1)


def read_tradb(blob: bytes, *, channel: int = 1) -> tuple[np.ndarray, float]:
    """A Vallen AE transient database (``.tradb``: SQLite, raw little-endian int16 samples) -> one channel's
    blocks joined in time order, in mV, and its rate. Only uncompressed files (DataFormat 0) and a constant
    rate are read; the blocks must follow each other without gaps (a continuous stream)."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    try:
        con.deserialize(blob)
        rows = con.execute("SELECT d.Time, d.SampleRate, d.Samples, d.DataFormat, d.Data, p.TR_mV, g.Value "
                           "FROM tr_data d JOIN tr_params p ON p.ID = d.ParamID "
                           "JOIN tr_globalinfo g ON g.Key = 'TimeBase' WHERE d.Chan = ? ORDER BY d.Time",
                           (channel,)).fetchall()
    finally:
        con.close()
    if not rows:
        raise ValueError(f"no transient data for channel {channel}")
    rates, formats = {r[1] for r in rows}, {r[3] for r in rows}
    if len(rates) != 1 or formats != {0}:
        raise ValueError(f"expected one rate and raw int16 samples, got rates {sorted(rates)}, formats {sorted(formats)}")
    rate, time_base = float(rows[0][1]), float(rows[0][6])
    starts = np.array([r[0] for r in rows], dtype=np.float64) / time_base
    lengths = np.array([r[2] for r in rows])
    if np.max(np.abs(np.diff(starts) - lengths[:-1] / rate), initial=0.0) > 0.5 / rate:
        raise ValueError("the blocks leave gaps: not a continuous stream")
    return np.concatenate([np.frombuffer(r[4], dtype="<i2").astype(np.float64) * r[5] for r in rows]), rate


_NUMPY_PICKLE_GLOBALS = {("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
                         ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
                         ("numpy", "ndarray"), ("numpy", "dtype")}


def read_numpy_pickle(blob: bytes):
    """A pickle of plain containers, numbers, strings and numpy arrays, read by an unpickler that may build
    those and nothing else (any other global is refused: a pickle can otherwise run arbitrary code)."""
    import io
    import pickle

    class NumpyOnly(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) not in _NUMPY_PICKLE_GLOBALS:
                raise pickle.UnpicklingError(f"refused: the pickle asks for {module}.{name}")
            return super().find_class(module, name)

    return NumpyOnly(io.BytesIO(blob)).load()
