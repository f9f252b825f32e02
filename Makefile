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

.PHONY: install install-gpu triton-venv test test-fast test-all lint bench demo default-model clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) --no-deps $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch==2.13.0
	$(PIP) -e ".[cpu,train,dev,display,triton,eval]"
	touch $@

# The GPU runtime in its own venv: onnxruntime-gpu and NVIDIA's CUDA/cuDNN wheels, never the CPU onnxruntime
# (both install the module `onnxruntime`). Pip line elsewhere: pip install -c constraints.txt ".[gpu]"
GPU_VENV ?= .venv-gpu
install-gpu: $(GPU_VENV)/.installed

$(GPU_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt --upgrade pip
	$(GPU_VENV)/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt \
		-e ".[gpu,display,signing,triton]" "pytest>=8" "pytest-timeout>=2" "onnx>=1.16"
	@if $(GPU_VENV)/bin/python -m pip show -q onnxruntime 2>/dev/null; then \
		echo "error: the CPU onnxruntime ended up in $(GPU_VENV); remove it: $(GPU_VENV)/bin/pip uninstall onnxruntime" >&2; exit 1; fi
	touch $@

# A real Triton server for the `triton` tests: PyTriton's bundled tritonserver needs numpy < 2, so it lives
# in its own venv. Its Python-backend stub links libpython: scripts/triton_serve.py sets LD_LIBRARY_PATH.
TRITON_VENV ?= .venv-triton
triton-venv: $(TRITON_VENV)/.installed

$(TRITON_VENV)/.installed: constraints.txt
	$(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt --upgrade pip
	$(TRITON_VENV)/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt \
		"numpy<2" nvidia-pytriton==0.7.0 onnxruntime
	touch $@

test: install triton-venv
	$(VENV)/bin/ruff check edge train calibrate tests scripts
	scripts/in-loopback-netns $(PY) -m pytest -m "not gpu and not trt" --durations=20 $(PYTEST_ARGS)

# The quick loop while editing: no slow, LSL or browser tests (a minute or two); `make test` before a push.
test-fast: install
	$(VENV)/bin/ruff check edge train calibrate tests scripts
	scripts/in-loopback-netns $(PY) -m pytest -m "not gpu and not trt and not slow and not lsl" -q $(PYTEST_ARGS)

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
	nice -n 10 $(PY) -m scripts.build_default_model --eegs 1200 --seed 0 --epochs 8

clean:
	rm -rf $(VENV) $(GPU_VENV) $(TRITON_VENV) build *.egg-info .pytest_cache .ruff_cache
