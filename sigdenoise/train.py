"""Training loop: on-the-fly examples, EMA weights, periodic validation, kill-safe resume.

State (weights, EMA, optimiser moments, step, RNG) is written as safetensors + JSON
every ``checkpoint_every`` steps, so ``sigdenoise train`` after a kill picks up where
it stopped. The EMA weights go to ``OUT/model.safetensors`` at every validation.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from .config import DataConfig, NetConfig, TrainConfig, to_dict
from .data import build_training_data
from .diffusion import BridgeDenoiser, bridge_loss, si_sdr, snr
from .level import level_settings, scale_as_opening
from .io.atomic import atomic_write
from .sampling import sample_bridge


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"opt/{idx}/{key}"] = value
            else:
                scalars[f"{idx}/{key}"] = value
    return tensors, {"scalars": scalars, "param_groups": state["param_groups"]}


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for name, value in tensors.items():
        if name.startswith("opt/"):
            _, idx, key = name.split("/", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_state(path: Path, model, ema, opt, step: int, rng: np.random.Generator, elapsed: float) -> None:
    from safetensors.torch import save_file

    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"ema/{k}": v for k, v in ema.state_dict().items()})
    opt_tensors, opt_meta = _flatten_optimizer(opt)
    tensors.update(opt_tensors)
    meta = {"step": str(step), "elapsed": str(elapsed), "optimizer": json.dumps(opt_meta),
            "rng": json.dumps(rng.bit_generator.state, default=int)}
    atomic_write(path, lambda tmp: save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
                                             metadata=meta))


def load_state(path: Path, model, ema, opt, rng: np.random.Generator) -> tuple[int, float]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema/")})
    _restore_optimizer(opt, tensors, json.loads(meta["optimizer"]))
    rng.bit_generator.state = json.loads(meta["rng"])
    return int(meta["step"]), float(meta["elapsed"])


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AMX or AVX512-BF16); elsewhere torch emulates it."""
    return torch.cpu._is_avx512_bf16_supported()


def resolve_precision(precision: str) -> str:
    """``"fp32"``, ``"bf16"`` or ``"auto"`` (bf16 where the CPU has it natively, else fp32) -> the one to run.

    Emulated bf16 costs more than it saves (a 2-core EPYC without AVX-512), so a recipe says "auto" and
    runs at its best on either kind of machine."""
    if precision not in ("fp32", "bf16", "auto"):
        raise ValueError(f"precision={precision!r}: use 'fp32', 'bf16' or 'auto'")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    if precision == "bf16" and not native_bf16():
        print("[train] precision='bf16' on a CPU without AVX512-BF16/AMX: it works but may be slower than fp32",
              flush=True)
    return precision


def learning_rate(step: int, config: TrainConfig) -> float:
    """Short linear warm-up, then cosine decay from ``lr`` to ``lr_final``."""
    warmup = min(200, config.steps // 10)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + math.cos(math.pi * progress))


def validation_data(data: DataConfig) -> DataConfig:
    """The data settings for the in-training validation examples (their own length, when one is set)."""
    return replace(data, segment_seconds=data.validation_seconds or data.segment_seconds)


@torch.no_grad()
def validate(model: BridgeDenoiser, clean: np.ndarray, noisy: np.ndarray, rates: np.ndarray, *,
             steps_list=(1, 2), pesq_clips: int = 0) -> dict:
    """SI-SDR, SNR (and wide-band PESQ on the first ``pesq_clips``) of the sampler on fixed validation pairs."""
    model.eval()
    keep = np.sqrt(np.mean(clean ** 2, axis=-1)) > 1e-5  # SI-SDR and PESQ need speech in the reference
    clean, noisy, rate = clean[keep], noisy[keep], torch.from_numpy(rates[keep])
    c, n = torch.from_numpy(clean), torch.from_numpy(noisy)
    out = {"noisy_si_sdr": si_sdr(n, c).mean().item(), "noisy_snr": snr(n, c).mean().item()}
    for steps in steps_list:
        g = torch.Generator().manual_seed(0)
        est = model.decode(sample_bridge(model, model.encode(n), steps=steps, sigma_max=model.config.bridge.sigma_max,
                                         generator=g, rate=rate), n.shape[-1])
        out[f"si_sdr@{steps}"] = si_sdr(est, c).mean().item()
        out[f"snr@{steps}"] = snr(est, c).mean().item()
        if pesq_clips and model.config.task == "speech":
            try:
                from pesq import pesq
            except ImportError:
                continue
            scores = []
            for k in range(min(pesq_clips, len(c))):
                ref = clean[k] / (np.abs(noisy[k]).max() + 1e-8)
                deg = est[k].numpy() / (np.abs(noisy[k]).max() + 1e-8)
                try:
                    scores.append(pesq(model.config.sample_rate, ref, deg, "wb"))
                except Exception:  # pesq refuses clips without speech activity
                    pass
            if scores:
                out[f"pesq@{steps}"] = float(np.mean(scores))
    model.train()
    return out


def grown_blocks(old: NetConfig, new: NetConfig) -> list[int] | None:
    """Indices of the temporal blocks ``new`` appends to ``old``, or None when ``new`` is not ``old`` plus
    appended temporal blocks (and perhaps some of them turned causal)."""
    same = replace(new, dilations=old.dilations, causal_min_dilation=old.causal_min_dilation) == old
    if not same or new.dilations[:len(old.dilations)] != old.dilations:
        return None
    return list(range(len(old.dilations), len(new.dilations)))


def train(config: TrainConfig, *, init: str | None = None, resume: bool = True, progress: bool = True) -> Path:
    """Train (or resume) and return the path of the EMA checkpoint."""
    if init:  # --init wins over the config's; record the one used in config.json and the checkpoint
        config = replace(config, init=init)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    precision = resolve_precision(config.precision)
    bf16 = precision == "bf16"
    print(f"[train] precision {precision} (asked: {config.precision})", flush=True)
    out_dir = Path(config.out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(to_dict(config), indent=1))
    rng = np.random.default_rng(config.seed)
    mcfg = config.model
    source = build_training_data(config.data, sample_rate=mcfg.sample_rate, target_rms=mcfg.target_rms,
                                 seed=config.seed)
    val_source = None
    if config.data.kind != "paired":
        try:
            val_source = build_training_data(validation_data(config.data), sample_rate=mcfg.sample_rate,
                                             target_rms=mcfg.target_rms, split="validation", seed=config.seed + 1)
        except (FileNotFoundError, ValueError):
            val_source = None
    val_source = val_source or source
    val_clean, val_noisy, val_rates = val_source.batch(config.validation_clips, np.random.default_rng(1234))

    model = BridgeDenoiser(mcfg)
    init = config.init
    stages: list[dict] = []  # the runs this model was fine-tuned from, oldest first
    if init:
        state, init_cfg, init_meta = load_checkpoint(resolve_checkpoint(init))
        before = init_meta.get("training", {})  # `sigdenoise info` shows every stage's time
        stages = before.get("stages") or ([{"run": before.get("config", {}).get("out_dir", str(init)),
                                            "step": before.get("step"), "hours": before.get("hours")}]
                                          if "hours" in before else [])
        # The weights fix the network and the number of bins; the hop and the compression are the
        # representation they are fine-tuned to, so a deliberate change there is allowed (and said).
        grown = grown_blocks(init_cfg.net, mcfg.net)
        if grown is None or init_cfg.stft.n_fft != mcfg.stft.n_fft:
            raise ValueError(f"--init {init}: its network or n_fft differs from this config's (a config may only "
                             "append temporal blocks); copy its [model] section into the config "
                             "to fine-tune it")
        if init_cfg.stft != mcfg.stft:
            print(f"[train] fine-tuning {init} from STFT {init_cfg.stft} to {mcfg.stft}", flush=True)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # a tensor of another shape: the inputs changed
            raise ValueError(f"--init {init}: weights do not fit this config's network ({exc})") from exc
        new_blocks = [model.net.temporal[i] for i in grown]
        new_names = {f"net.temporal.{i}." for i in grown}
        stray = [k for k in missing if not any(k.startswith(n) for n in new_names)]
        if unexpected or stray:
            raise ValueError(f"--init {init}: weights do not match the network (missing {stray[:3]}, "
                             f"unexpected {unexpected[:3]})")
        for block in new_blocks:  # appended blocks start as no-ops: step 0 reproduces the init model
            block.make_identity()
        turned = [b for i, b in enumerate(model.net.temporal[:len(init_cfg.net.dilations)])
                  if b.causal and not 0 < init_cfg.net.causal_min_dilation <= init_cfg.net.dilations[i]]
        for block in turned:  # two-way weights made causal: they keep their past and present taps
            block.take_two_way_taps()
        if turned:
            print(f"[train] {init}: {len(turned)} temporal block(s) made causal, future taps dropped", flush=True)
        if new_blocks:
            print(f"[train] {init}: {len(new_blocks)} new block(s) {grown}, starting as identity", flush=True)
    ema = BridgeDenoiser(mcfg)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    state_path = out_dir / "state.safetensors"
    step, elapsed = 0, 0.0
    if resume and state_path.exists():
        step, elapsed = load_state(state_path, model, ema, opt, rng)
        print(f"[train] resumed from {state_path} at step {step}", flush=True)
    log = open(out_dir / "log.jsonl", "a")
    data_summary = {"kind": config.data.kind, "segment_seconds": config.data.segment_seconds,
                    "snr_db": list(config.data.snr_db)}
    if hasattr(source, "speech"):
        data_summary.update(train_speakers=len(source.speech), train_noise_files=len(source.noise),
                            train_speech_minutes=round(sum(s.size for s in source.speech.values()) / mcfg.sample_rate / 60, 1))

    def write_model(metrics: dict) -> Path:
        path = out_dir / "model.safetensors"
        save_checkpoint(path, ema.state_dict(), mcfg, data=data_summary,
                        training={"step": step, "hours": round(elapsed / 3600, 3), "precision": precision,
                                  "validation": metrics, "config": to_dict(config),
                                  "stages": stages + [{"run": config.out_dir, "step": step,
                                                       "hours": round(elapsed / 3600, 3)}]})
        return path

    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=config.steps, initial=step, dynamic_ncols=True, mininterval=5)
        except ImportError:
            bar = None
    started = time.time() - elapsed
    gen = torch.Generator().manual_seed(config.seed + step)
    metrics: dict = {}
    while step < config.steps:
        if (time.time() - started) / 3600 > config.max_hours:
            print(f"[train] stopping at the {config.max_hours} h budget, step {step}", flush=True)
            break
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, config)
        clean, noisy, rates = source.batch(config.batch_size, rng)
        if config.running_level_prob:  # 0: same draws as before
            opening = rng.uniform(size=len(clean)) < config.running_level_prob
            if opening.any():
                clean[opening], noisy[opening] = scale_as_opening(
                    clean[opening], noisy[opening], **level_settings(mcfg.sample_rate, mcfg.stft.hop_length),
                    target_rms=mcfg.target_rms, keep_offset=mcfg.keep_offset)
        through_sampler = bool(config.sampler_loss_prob) and rng.uniform() < config.sampler_loss_prob
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, parts = bridge_loss(model, torch.from_numpy(clean), torch.from_numpy(noisy),
                                      rate=torch.from_numpy(rates),
                                      t_one_prob=config.t_one_prob, complex_weight=config.complex_weight,
                                      magnitude_weight=config.magnitude_weight, sisdr_weight=config.sisdr_weight,
                                      waveform_loss=config.waveform_loss, waveform_max_db=config.waveform_max_db,
                                      generator=gen,
                                      sampler_steps=config.sampler_loss_steps if through_sampler else 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        with torch.no_grad():
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 1 - decay)
            for e, b in zip(ema.buffers(), model.buffers()):  # batch-norm statistics: already running means
                e.copy_(b)
        step += 1
        elapsed = time.time() - started
        if bar is not None:
            bar.update(1)
            waveform = config.waveform_loss
            bar.set_postfix(loss=f"{parts['loss']:.4f}", **{waveform: f"{parts[waveform]:.1f}"})
        if step % 50 == 0:
            log.write(json.dumps({"step": step, "elapsed": round(elapsed, 1), "lr": learning_rate(step, config),
                                  **parts}) + "\n")
            log.flush()
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_state(state_path, model, ema, opt, step, rng, elapsed)
        if step % config.validate_every == 0 or step == config.steps:
            metrics = validate(ema, val_clean, val_noisy, val_rates, steps_list=(1, mcfg.bridge.default_steps),
                               pesq_clips=16)
            log.write(json.dumps({"step": step, "validation": metrics}) + "\n")
            log.flush()
            print(f"[train] step {step} validation {metrics}", flush=True)
            write_model(metrics)
    if bar is not None:
        bar.close()
    save_state(state_path, model, ema, opt, step, rng, elapsed)
    metrics = validate(ema, val_clean, val_noisy, val_rates, steps_list=(1, mcfg.bridge.default_steps),
                       pesq_clips=16)
    return write_model(metrics)
