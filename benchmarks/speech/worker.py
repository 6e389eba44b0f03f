"""Runs one system over every clip in a fresh process (started by ``benchmarks.speech.run``).

One process per system, so that:

* peak memory is the worker's own peak resident set size (Linux ``VmHWM``, see
  :func:`benchmarks.common.peak_rss_mib`), read after the last clip: the whole
  process, i.e. Python, NumPy, the system's libraries and weights, and its
  buffers; native allocations (ONNX Runtime, Rust, C, torch) count, unlike with
  ``tracemalloc``. The "noisy input" row runs the
  same worker with a pass-through and shows the floor of that number;
* a peer that crashes or aborts the process (the DFN2 files panic in Rust) costs
  one row, not the run;
* the thread count is set before any numerical library starts.

Timing: the system is built (model loaded) first, then run once on the first
second of the first clip as a warm-up; neither is timed as processing. Each
clip is then timed with ``time.perf_counter`` around the whole call, including
any resampling to and from the system's own rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback


def _build(system: str, steps: str | None, model_path: str | None, device: str = "cpu", shifts: int = 1):
    import numpy as np

    if system == "sigdenoise":
        try:
            import torch

            torch.set_num_threads(int(os.environ.get("SIGDENOISE_BENCH_THREADS", "1")))
            import sigdenoise

            model = sigdenoise.load_model(model_path or "speech", device=device)
        except Exception as e:  # no checkpoint yet, API not there yet, ...
            raise _Unavailable(f"sigdenoise.load_model failed: {type(e).__name__}: {e}") from e
        default = int(model.config.bridge.default_steps)
        k = default if steps in (None, "default") else int(steps)
        info = {"steps": k, "default_steps": default, "shifts": shifts,
                "model": str(model.metadata.get("path", model_path or "speech")),
                "device": str(model.device)}

        def fn(noisy, sr):
            y = model.denoise(noisy, sample_rate=sr, steps=k, shifts=shifts)
            if hasattr(y, "detach"):
                y = y.detach().cpu().numpy()
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            return np.asarray(y, dtype=np.float32).reshape(-1)

        return fn, info

    from .peers import PEERS, PeerUnavailable

    if system not in PEERS:
        raise SystemExit(f"unknown system {system!r}; known: sigdenoise, {', '.join(PEERS)}")
    try:
        return PEERS[system](), {}
    except PeerUnavailable as e:
        raise _NotInstalled(str(e)) from e
    except ImportError as e:
        raise _NotInstalled(f"{type(e).__name__}: {e}") from e


class _Unavailable(RuntimeError):
    pass


class _NotInstalled(RuntimeError):
    pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", required=True)
    ap.add_argument("--steps", default=None)
    ap.add_argument("--shifts", type=int, default=1, help="sigdenoise: placements of the STFT frame grid to average")
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--inputs", required=True, help=".npz with x0..x{n-1} and sr")
    ap.add_argument("--output", required=True, help=".npz to write y0..y{n-1} into")
    ap.add_argument("--status", required=True, help=".json to write timings and status into")
    args = ap.parse_args(argv)

    status: dict = {"system": args.system}

    def write_status():
        with open(args.status, "w") as f:
            json.dump(status, f)

    import numpy as np

    from ..common import peak_rss_mib

    data = np.load(args.inputs)
    sr = int(data["sr"])
    clips = [data[f"x{i}"] for i in range(int(data["n"]))]
    t0 = time.perf_counter()
    try:
        fn, info = _build(args.system, args.steps, args.model, args.device, args.shifts)
    except _NotInstalled as e:
        status.update(state="not installed", reason=str(e))
        write_status()
        return 0
    except _Unavailable as e:
        status.update(state="unavailable", reason=str(e))
        write_status()
        return 0
    status.update(info)
    status["load_seconds"] = time.perf_counter() - t0
    try:
        fn(clips[0][:sr].copy(), sr)  # warm-up, not timed
        outputs, wall, cpu, length_fixed = {}, [], [], 0
        for i, x in enumerate(clips):
            c0, w0 = time.process_time(), time.perf_counter()
            y = fn(x.copy(), sr)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
            y = np.asarray(y, dtype=np.float32).reshape(-1)
            if y.size != x.size:
                length_fixed += 1
                y = y[: x.size] if y.size > x.size else np.pad(y, (0, x.size - y.size))
            outputs[f"y{i}"] = y
    except Exception as e:
        status.update(state="failed", reason=f"{type(e).__name__}: {e}", traceback=traceback.format_exc()[-2000:])
        write_status()
        return 0
    np.savez(args.output, **outputs)
    status.update(state="ok", wall_seconds=wall, cpu_seconds=cpu, length_fixed=length_fixed,
                  peak_rss_mib=peak_rss_mib())
    write_status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
