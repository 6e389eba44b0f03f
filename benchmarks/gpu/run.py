"""One short GPU check: the API on CUDA (bfloat16 autocast) and throughput.

    python -m benchmarks.gpu.run [--model speech] [--out benchmarks/gpu/results.md]

Reports seconds of audio denoised per second at batch 1 and batch 32 (10 s clips), at
1 step and at the model's default steps, and how far the CUDA output is from the CPU
output on the same input and seed (SI-SDR, dB). Needs a CUDA GPU; exits 2 without one.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def _si_sdr(est, ref):
    ref, est = ref - ref.mean(), est - est.mean()
    target = (est @ ref) / (ref @ ref + 1e-12) * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target) + 1e-12)))


def throughput(model, x: torch.Tensor, sr: int, steps: int, repeats: int = 3) -> float:
    model.denoise(x, sample_rate=sr, steps=steps)  # warm-up (cuDNN autotune, allocator)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        model.denoise(x, sample_rate=sr, steps=steps)
    torch.cuda.synchronize()
    return x.numel() / sr * repeats / (time.perf_counter() - t)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="speech")
    parser.add_argument("--out", default="benchmarks/gpu/results.md")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA GPU visible")
        raise SystemExit(2)
    import sigdenoise

    gpu = sigdenoise.load_model(args.model, device="cuda", batch_size=64)
    cpu = sigdenoise.load_model(args.model, device="cpu")
    sr = gpu.config.sample_rate or 16000
    rng = np.random.default_rng(0)
    clip = (0.05 * rng.standard_normal(10 * sr)).astype(np.float32)
    agree = _si_sdr(gpu.denoise(clip, sample_rate=sr, eta=0.0).astype(np.float64),
                    cpu.denoise(clip, sample_rate=sr, eta=0.0).astype(np.float64))
    x1 = torch.from_numpy(clip).cuda()
    x32 = torch.from_numpy((0.05 * rng.standard_normal((32, 1, 10 * sr))).astype(np.float32)).cuda()
    assert gpu.denoise(x32, sample_rate=sr).device.type == "cuda"
    rows = []
    for steps in sorted({1, gpu.config.bridge.default_steps}):
        rows.append({"steps": steps, "batch1_audio_s_per_s": throughput(gpu, x1, sr, steps),
                     "batch32_audio_s_per_s": throughput(gpu, x32, sr, steps, repeats=2)})
    name = torch.cuda.get_device_name(0)
    lines = [f"# GPU check — {name}", "", f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
             f"{time.strftime('%Y-%m-%d')}, model `{args.model}`, bfloat16 autocast", "",
             f"CUDA vs CPU output on the same 10 s input (eta=0): SI-SDR {agree:.1f} dB", "",
             "| steps | batch 1: s audio / s | batch 32: s audio / s |", "|---|---|---|"]
    lines += [f"| {r['steps']} | {r['batch1_audio_s_per_s']:.0f} | {r['batch32_audio_s_per_s']:.0f} |" for r in rows]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"device": name, "cpu_gpu_si_sdr": agree, "rows": rows}))


if __name__ == "__main__":
    main()
