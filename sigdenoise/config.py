"""Small frozen dataclasses describing a model and its training, with JSON/TOML round trips.

A :class:`ModelConfig` travels inside every checkpoint, so a weights file alone is
enough to rebuild the network, its STFT and its sampler settings.
"""
from __future__ import annotations

import dataclasses
import json
import numbers
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

# Experiments the bundled models never used, taken out of the code (their values that changed nothing):
# a file that holds one at that value loads as before, one that uses it is refused with the reason.
RETIRED_SETTINGS = {"wavelet_input": False, "noise_floor_frames": 0, "filter_frames": 0,
                    "net.freq_dilations": [], "net.recurrent": 0, "net.freq_fold": 1}

# The checkpoint schema. 2: the file records the sigdenoise version that wrote it; a reader warns about
# settings it does not know (a newer file) and lists those it took from its defaults (an older file).
FORMAT_VERSION = 2


@dataclass(frozen=True)
class StftConfig:
    """STFT and amplitude compression settings, stored in every checkpoint."""

    n_fft: int = 510
    hop_length: int = 128
    alpha: float = 0.5  # magnitude compression exponent: |X|^alpha
    scale: float = 0.15  # multiplies the compressed spectrogram


@dataclass(frozen=True)
class NetConfig:
    """Backbone hyper-parameters (see :mod:`sigdenoise.nets.crn`)."""

    name: str = "bridge_crn"
    channels: tuple[int, ...] = (16, 24, 32, 48)  # per frequency-halving level
    bottleneck: int = 192
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)  # temporal blocks at the bottleneck
    # Temporal blocks with a dilation of at least this read only past and present frames (0: all read
    # both ways). It bounds how far ahead the network looks, and so how long a stream waits for its input.
    causal_min_dilation: int = 0
    emb_dim: int = 64
    norm: str = "frame"  # "frame" (per-frame layer norm) or "batch"; see nets.layers.make_norm


@dataclass(frozen=True)
class BridgeConfig:
    """Brownian bridge from clean (t=0) to noisy (t=1): x_t = (1-t) x0 + t y + sigma_max sqrt(t(1-t)) eps."""

    sigma_max: float = 0.5
    default_steps: int = 2


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model and run it on new signals."""

    task: str = "speech"  # "speech" or "sensor"
    sample_rate: int = 16000  # rate the network runs at; inputs are resampled to it
    representation: str = "stft"  # compressed complex STFT; the only one implemented
    stft: StftConfig = field(default_factory=StftConfig)
    net: NetConfig = field(default_factory=NetConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    target_rms: float = 0.05  # inputs are scaled to this RMS before the network, and back after
    chunk_seconds: float = 4.0
    overlap_seconds: float = 0.25
    # Seconds of the signal mirrored before its start and after its end (not counted in its level): the
    # network needs context at a file's edges as much as within it, or it removes a first word spoken at
    # once. Mirrored, not silence: silence before a noisy recording reads as a noise onset (SI-SDR -0.6 dB on
    # the unseen-source mixtures), the mirror keeps the noise as it is. 0: no padding (sensor models).
    edge_context_seconds: float = 0.0
    # Offline too, centre and scale each STFT hop by the mean and RMS of the input before it
    # (sigdenoise.level), as a stream must, instead of by the whole signal's: then a stream of the model
    # matches its offline output. Only for models trained on it (TrainConfig.running_level_prob).
    running_level: bool = False
    uncertainty_scale: float = 1.0  # calibrates the posterior spread (fitted on validation data)
    # The dry/wet mix a call gets when it names none (``strength=None``), chosen on validation mixtures
    # (benchmarks.speech.sweep): keeping a little of the input hides a mask's deepest cuts.
    default_strength: float = 1.0
    # The estimate is (mask_offset + M) * y + R. With 1.0 and a zero-initialised head the untrained
    # model passes its input through, and training starts from "keep everything" instead of silence.
    mask_offset: float = 0.0
    # Also feed the network log|y|: the level of each bin in dB-like units, the cue a mask needs most,
    # which it would otherwise have to build from real and imaginary parts.
    log_magnitude_input: bool = False
    # Also feed where mains hum (50/60 Hz and harmonics, folded below Nyquist) falls among the STFT bins
    # at the input's rate: a rate-agnostic model cannot otherwise tell hum from a trace's own rhythm.
    mains_map_input: bool = False
    # Do no harm: where the model changes a chunk by less than this (correction energy relative to the
    # chunk's own, in dB), hand the chunk back as it came in, fading in over 3 dB above. A correction that
    # small is below the model's own error on shapes it has not seen (a nearly clean trace it would
    # otherwise rewrite). None: off. Fitted by ``sigdenoise calibrate`` on the training split.
    fallback_below_db: float | None = None
    # Hand the input's mean (its DC offset) back with the output. A sensor trace's offset is part of the
    # measurement; in a recording it is an inaudible defect, and speech configs drop it: handed back, it
    # kept "noise-only" files with an offset at full level (benchmarks.speech.floors).
    keep_offset: bool = True

    def __post_init__(self):
        if self.representation != "stft":
            raise ValueError(f"unknown representation {self.representation!r}; supported: 'stft'")
        if self.task not in ("speech", "sensor"):
            raise ValueError(f"unknown task {self.task!r}; supported: 'speech', 'sensor'")
        if not 0.0 <= self.default_strength <= 1.0:
            raise ValueError(f"default_strength must be within [0, 1], got {self.default_strength}")


# Every kind of synthetic event stream (data.event_noise) and its odds when drawn; stage 4 draws the first three.
EVENT_KIND_ODDS = {"impacts": 0.6, "chirps": 0.25, "siren": 0.15, "whine": 0.3, "notes": 0.2, "strokes": 0.3}
DEFAULT_EVENT_KINDS = ("impacts", "chirps", "siren")


@dataclass(frozen=True)
class DataConfig:
    """Where training examples come from and how they are corrupted."""

    kind: str = "speech_mix"  # "speech_mix" (clean + noise folders), "paired" (noisy_*/clean_*), "sensor"
    clean_dir: str = ""  # speech_mix / sensor: clean signals; defaults to the prepared cache
    noise_dir: str = ""
    paired_dir: str = ""  # paired: a folder with clean*/ and noisy*/ sub-folders of matching files
    segment_seconds: float = 2.0
    snr_db: tuple[float, float] = (-5.0, 20.0)
    synthetic_noise_prob: float = 0.3  # white/pink/brown/hum/babble instead of a real noise file
    # Share of clean-in/clean-out examples (leave a clean signal alone); speech_mix: also of noise-only
    # examples with a silent target (do not invent speech).
    clean_input_prob: float = 0.04
    noise_only_prob: float = 0.04
    # Training split only. speech_mix: speed perturbation and spectral tilt (new voices); sensor: time
    # stretch, sign and direction flips, two-family sums.
    augment: bool = False
    # speech_mix, training split only: new noises from the ones we have (resampling, random equalisation,
    # slow level swings; machine drones with random pitch among the synthetic kinds).
    noise_augment: bool = False
    # with noise_augment: share of real noises played through a random synthetic room (data.room_reverb),
    # a machine heard from across a hall rather than close up.
    noise_reverb_prob: float = 0.0
    # speech_mix, with augment: the speed factor's range (pitch and formants move together). Outside
    # x0.85-1.15 a model trained on ~29 voices had never heard a deep voice: slowed x0.7, held-out clean
    # speech came back at 1.6 dB SI-SDR against itself (DTLN 27.4; benchmarks.speech.floors).
    speed_range: tuple[float, float] = (0.85, 1.15)
    # speech_mix, with augment: share of voices band-limited (telephone, radio, small loudspeaker) before
    # mixing, the target band-limited too: the model learns to keep a thin voice, not to treat it as noise.
    speech_band_prob: float = 0.0
    # the band-limit's upper edge is drawn log-uniformly in this range (Hz). Down to 1.8 kHz a voice heard
    # through a wall or from a pocket stays a target, not noise; above 3 kHz only, the wide-noise stage
    # removed such voices (60-2000 Hz clean speech came back at 3.8 dB against itself).
    speech_band_high_hz: tuple[float, float] = (3000.0, 7000.0)
    # speech_mix: speaker groups (glob patterns, e.g. "cs-*") left out of training and in-training
    # validation. The benchmark's held-out set (data.is_validation) does not change.
    exclude_speakers: tuple[str, ...] = ()
    # speech_mix: the pauses of these speaker groups' recordings (glob patterns; room tone, hiss, hum) become
    # real noise, drawn for a share ``pause_noise_prob`` of the noisy examples. Use groups that are not
    # clean targets (see exclude_speakers), or the model learns to remove what it is also taught to keep.
    pause_noise_groups: tuple[str, ...] = ()
    pause_noise_prob: float = 0.0
    # speech_mix, with noise_augment (training split only): share of the noisy examples whose noise is
    # synthetic events (data.event_noise: impacts, chirps, sirens over a coloured bed), the kinds of
    # noise the real recordings hold few of.
    event_noise_prob: float = 0.0
    # the kinds of event stream drawn (EVENT_KIND_ODDS): the first three are stage 4's recipe;
    # "whine" (saws, drills), "notes" (music) and "strokes" (sawing, sweeping) are opt-in
    event_kinds: tuple[str, ...] = DEFAULT_EVENT_KINDS
    # share of those event noises laid over a real (augmented) noise, as in a workshop or a street
    event_over_noise_prob: float = 0.0
    # sensor, training split only (with augment): share of clean segments drawn from generic synthetic
    # shapes (sensor_data.synthetic_trace) instead of the real series.
    synthetic_clean_prob: float = 0.0
    # sensor: share of those synthetic traces that get a stationary broadband part (sensor_data._broadband)
    # and, half the time, ADC rounding.
    synthetic_broadband_prob: float = 0.0
    # sensor: share of those broadband parts high-passed (sensor_data._broadband), so that some clean traces hold
    # nothing at the lowest frequencies, as acoustic emission and casing vibration do: there, slow wander and
    # hum are all noise. 0 keeps the random stream of the recipes before it.
    synthetic_highpass_prob: float = 0.0
    # speech_mix, training split only: more real-noise folders (a name such as "noise-wide" is the prepared
    # cache of that role, anything else a path); their files join noise_dir's in the draw. In-training
    # validation keeps noise_dir's own validation files, so its numbers stay comparable across stages.
    extra_noise_dirs: tuple[str, ...] = ()
    # speech_mix, training split only: more clean-speech folders, the same way; each speaker group joins the
    # draw as clean_dir's do (a group's weight grows with its size, flattened: SpeechMixer._speech).
    extra_speech_dirs: tuple[str, ...] = ()
    # speech_mix, with augment: share of voices heard across a simulated room (data.room_pair): the input
    # holds the reverberant voice, the target only its direct path and first 50 ms of reflections.
    speech_reverb_prob: float = 0.0
    # speech_mix, with augment: share of examples sent through a lossy codec (MP3 or Vorbis at a random
    # bit rate, libsndfile) after mixing; the target is the clean voice through the same codec, so the
    # model removes the noise, not the channel.
    codec_prob: float = 0.0
    # speech_mix, with augment: share of noisy inputs clipped at 30-90 % of their peak (a hot microphone
    # preamp); the target is not clipped.
    clip_prob: float = 0.0
    # speech_mix, with augment: the network's input level varies by up to this many dB around target_rms
    # (clean and noisy scaled alike). Offline scales a whole file by its RMS, a stream by the RMS of what has
    # arrived so far; a model that has seen levels vary gives both nearly the same output.
    level_jitter_db: float = 0.0
    # Length of the in-training validation examples; 0 means segment_seconds. Set it to train on shorter
    # segments (cheaper steps) while validating on the same mixtures as a run on longer ones.
    validation_seconds: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if self.segment_seconds <= 0 or self.validation_seconds < 0:
            raise ValueError(f"data.segment_seconds must be > 0 and data.validation_seconds >= 0 (0: the same), got "
                             f"{self.segment_seconds} and {self.validation_seconds}")

        if not self.event_kinds or set(self.event_kinds) - set(EVENT_KIND_ODDS):
            raise ValueError(f"data.event_kinds must be some of {sorted(EVENT_KIND_ODDS)}, got {list(self.event_kinds)}")


@dataclass(frozen=True)
class TrainConfig:
    """A full training run: model, data and optimiser settings."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    out_dir: str = "runs/speech"
    # Fine-tuning: start from this model's weights (a name in checkpoints/ or a .safetensors path);
    # the CLI's --init overrides it. Resuming a run's own state.safetensors takes precedence over both.
    init: str = ""
    steps: int = 20000
    batch_size: int = 16
    lr: float = 1e-3
    lr_final: float = 1e-4
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    t_one_prob: float = 0.5  # share of examples trained at t=1, the first (and most important) step
    # share of batches trained through the sampler at sampler_loss_steps calls (diffusion.sample_with_grad):
    # each costs that many forward and backward passes; 0 keeps the plain bridge loss (and its random draws)
    sampler_loss_prob: float = 0.0
    # share of examples scaled as a running-level model (ModelConfig.running_level) is fed a signal's
    # opening (level.scale_as_opening); the rest keep their whole-segment level, as later in a signal
    running_level_prob: float = 0.0
    sampler_loss_steps: int = 2
    complex_weight: float = 0.3
    magnitude_weight: float = 0.7
    sisdr_weight: float = 0.002  # weight of the waveform term (SI-SDR or SNR, in dB)
    waveform_loss: str = "si_sdr"  # "si_sdr" or "snr" (diffusion.bridge_loss)
    # The waveform term stops rewarding an example past this many dB: higher asks for a more exact
    # pass-through of nearly clean input, at the risk of those examples swamping the batch.
    waveform_max_db: float = 30.0
    # "bf16": the network's convolutions and matmuls run in bfloat16 under autocast (weights, optimiser,
    # STFT and losses stay float32). On a 2-core AMX Xeon the speech network ran 1.67x faster and the whole
    # training loop 1.56x (batch mixing is untouched). Validation and the shipped model run in float32 either way.
    # "auto": bf16 where the CPU computes it natively (AMX, AVX512-BF16), else fp32 (train.resolve_precision).
    precision: str = "fp32"
    validate_every: int = 1000
    validation_clips: int = 32
    checkpoint_every: int = 200
    max_hours: float = 3.0
    threads: int = 2
    seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.sampler_loss_prob <= 1.0 or self.sampler_loss_steps < 1:
            raise ValueError(f"sampler_loss_prob must be in [0, 1] and sampler_loss_steps >= 1, got "
                             f"{self.sampler_loss_prob} and {self.sampler_loss_steps}")


# --------------------------------------------------------------------------- (de)serialisation
def to_dict(obj) -> dict:
    """A dataclass (nested) as plain JSON-able dicts; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


def check_sampler_request(steps: int | None, num_samples: int, shifts: int = 1) -> None:
    """Refuse sampler requests no model can serve; torch-free, so the batch CLI checks its flags before loading.

    One step is a single network call from the noisy input with no noise drawn: its posterior samples
    are identical and their spread says nothing, so several samples need at least 2 steps. Shifts average
    each sample over placements of the frame grid, which narrows the spread below the calibrated band.
    """
    if not (isinstance(shifts, numbers.Integral) and shifts >= 1):
        raise ValueError(f"shifts must be a whole number >= 1, got {shifts!r}")
    if shifts > 1 and num_samples > 1:
        raise ValueError(f"shifts={shifts} with num_samples={num_samples}: each sample would be an average over the "
                         "shifts, so their spread would understate the uncertainty the band is calibrated for; "
                         "use shifts=1 for an uncertainty band")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if steps is not None and int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if steps is not None and int(steps) == 1 and num_samples > 1:
        raise ValueError(f"num_samples={num_samples} with steps=1: one step is deterministic, so every sample is "
                         "the same and the spread would be 0; use steps >= 2 (or leave steps unset)")


def from_dict(cls, data: dict):
    """Rebuild dataclass ``cls`` from :func:`to_dict` output; unknown keys are an error."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value)
        elif typing.get_origin(hint) is tuple:
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return cls(**kwargs)


def _merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` laid over it, table by table."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A TOML config; one that names ``base = "other.toml"`` (beside it) holds only its changes to that one."""
    path = Path(path).resolve()
    if path in seen:
        raise ValueError(f"{path}: its base configs form a circle ({' -> '.join(p.name for p in (*seen, path))})")
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    base = data.pop("base", None)
    return _merged(_read_toml(path.parent / base, (*seen, path)), data) if base else data


def load_train_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Read a TOML training config (sections [model], [model.net], [data], ...). A stage that starts from
    another names it (``base = "speech-wide.toml"``) and lists only what it changes."""
    data = _read_toml(Path(path))
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return from_dict(TrainConfig, data)
