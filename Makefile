# One entry point for people and CI. Every pip call goes through constraints.txt so pip never
# resolves a different torch (which would pull several GB of CUDA wheels).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
PYTEST_ARGS ?=
# Where torch comes from: the CPU wheels by default (bedside and dev installs need no CUDA), added to
# pip's indexes so a local wheel still counts. A CUDA workstation: make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
# Empty (TORCH_INDEX=) leaves it to pip's own configuration.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install test test-all lint bench demo default-model clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) --no-deps $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch==2.13.0
	$(PIP) -e ".[train,dev,display,eval]"
	touch $@

test: install
	$(VENV)/bin/ruff check edge train calibrate tests scripts
	scripts/in-loopback-netns $(PY) -m pytest -m "not gpu and not trt" $(PYTEST_ARGS)

test-all: install
	scripts/in-loopback-netns $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check edge train calibrate tests scripts

bench: install
	scripts/in-loopback-netns $(PY) scripts/bench.py --out docs/benchmarks.md

# The shipped model on the shipped synthetic seizure; TRAIN=1 first trains a small model from synthetic data.
demo: install
ifeq ($(TRAIN),1)
	scripts/in-loopback-netns $(PY) -m train.demo
else
	scripts/in-loopback-netns $(VENV)/bin/edge demo
endif

# Rebuild edge/model/default/ (synth with real eegmat background -> train fit -> calibrate run -> checks).
default-model: install
	nice -n 10 $(PY) -m scripts.default_model --eegs 1200 --seed 0 --epochs 4

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
