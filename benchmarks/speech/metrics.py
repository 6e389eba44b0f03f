"""Speech quality metrics at 16 kHz: PESQ (wide band), ESTOI, SI-SDR, DNSMOS overall.

* PESQ: ``pesq`` (ITU-T P.862.2 reference code), mode ``"wb"``, 16 kHz. A clip
  PESQ cannot score (no utterance found) counts as NaN and is left out of means.
* ESTOI: ``pystoi.stoi(..., extended=True)``.
* SI-SDR: :func:`benchmarks.common.si_sdr` (zero-mean, scale-invariant; Le Roux et al. 2019).
* DNSMOS P.835 overall (OVRL), no reference: the ``sig_bak_ovr.onnx`` model that
  ``speechmos`` bundles, run exactly as ``speechmos.dnsmos.run`` does (9.01 s
  windows hopped by 1 s, a shorter clip doubled until it is long enough, the
  non-personalised polynomial fit, mean over windows). It is called through
  onnxruntime directly because ``speechmos.dnsmos`` imports librosa at load time
  (only for the P.808 score, not reported here), and librosa would pull numba.
  The input is clipped to [-1, 1] first, as speechmos requires.

Install: ``pip install -c /tmp/c.txt pesq pystoi onnxruntime`` and
``pip install -c /tmp/c.txt --no-deps speechmos``.
"""

from __future__ import annotations

import math

import numpy as np

from ..common import si_sdr

SR = 16000
DNSMOS_INPUT_S = 9.01


def pesq_wb(clean: np.ndarray, enhanced: np.ndarray, sr: int = SR) -> float:
    from pesq import pesq

    try:
        return float(pesq(sr, clean.astype(np.float64), enhanced.astype(np.float64), "wb"))
    except Exception:  # pesq.NoUtterancesError and friends: unscorable clip
        return math.nan


def estoi(clean: np.ndarray, enhanced: np.ndarray, sr: int = SR) -> float:
    from pystoi import stoi

    return float(stoi(clean.astype(np.float64), enhanced.astype(np.float64), sr, extended=True))


class DNSMOS:
    """DNSMOS P.835 (sig, bak, ovr) with the ONNX model bundled by ``speechmos``."""

    def __init__(self, threads: int = 1):
        import importlib.util
        from pathlib import Path

        import onnxruntime as ort

        spec = importlib.util.find_spec("speechmos")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("speechmos is not installed")
        path = Path(list(spec.submodule_search_locations)[0]) / "dnsmos_models" / "sig_bak_ovr.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        # speechmos.dnsmos.DNSMOS.get_polyfit_val, is_personalized_MOS=False
        self.p_sig = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
        self.p_bak = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
        self.p_ovr = np.poly1d([-0.06766283, 1.11546468, 0.04602535])

    def __call__(self, audio: np.ndarray, sr: int = SR) -> dict[str, float]:
        if sr != SR:
            raise ValueError("DNSMOS needs 16 kHz input")
        audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        need = int(DNSMOS_INPUT_S * sr)
        while len(audio) < need:
            audio = np.append(audio, audio)
        hops = int(np.floor(len(audio) / sr) - DNSMOS_INPUT_S) + 1
        segs = [audio[int(k * sr): int((k + DNSMOS_INPUT_S) * sr)] for k in range(hops)]
        batch = np.stack([seg for seg in segs if len(seg) == need]).astype(np.float32)
        raw = self.session.run(None, {self.input_name: batch})[0]  # one call, all windows
        sig = self.p_sig(raw[:, 0])
        bak = self.p_bak(raw[:, 1])
        ovr = self.p_ovr(raw[:, 2])
        return {"sig": float(np.mean(sig)), "bak": float(np.mean(bak)), "ovrl": float(np.mean(ovr))}


class SpeechMetrics:
    """All four metrics for one (clean, enhanced) pair; a metric whose package is missing gives NaN."""

    def __init__(self, threads: int = 1):
        self.missing: list[str] = []
        for module, label in (("pesq", "pesq"), ("pystoi", "pystoi")):
            try:
                __import__(module)
            except ImportError:
                self.missing.append(label)
        try:
            self.dnsmos = DNSMOS(threads)
        except ImportError:
            self.dnsmos = None
            self.missing.append("speechmos/onnxruntime")

    def __call__(self, clean: np.ndarray, enhanced: np.ndarray, sr: int = SR) -> dict[str, float]:
        enhanced = np.nan_to_num(np.asarray(enhanced, dtype=np.float32))
        return {
            "pesq": pesq_wb(clean, enhanced, sr) if "pesq" not in self.missing else math.nan,
            "estoi": estoi(clean, enhanced, sr) if "pystoi" not in self.missing else math.nan,
            "si_sdr": si_sdr(clean, enhanced),
            "dnsmos_ovrl": self.dnsmos(enhanced, sr)["ovrl"] if self.dnsmos is not None else math.nan,
        }
