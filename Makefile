# seismic-diffusers developer tasks.
#
#   make setup     create .venv and install the package (+ dev tools); fast when nothing changed
#   make test      run the test suite (fails if no tests are collected)
#   make demo      generate 16 velocity models with the shipped pipeline into samples/
#   make lint      ruff check + ruff format --check
#   make clean     remove caches and generated outputs (keeps .venv)
#
# Torch is installed first so that the right wheel is chosen:
#   - with a working `nvidia-smi`: the default (CUDA) torch wheel, torch>=2.1;
#   - otherwise: torch==$(TORCH_VERSION); on a CPU machine without a local wheel, point pip at the
#     CPU wheels with  make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu

PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/python -m pip
VPY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
STAMP := $(VENV)/.installed
LINT_DIRS := $(wildcard seismic_diffusers training tests benchmarks spaces_app)

.PHONY: setup test demo lint clean

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.py pyproject.toml | $(VENV)/bin/python
	@if nvidia-smi >/dev/null 2>&1; then \
		echo "GPU detected: installing torch>=2.1"; \
		$(PIP) install "torch>=2.1"; \
	else \
		echo "No GPU detected: installing torch==$(TORCH_VERSION)"; \
		$(PIP) install "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
	fi
	$(PIP) install -e ".[dev]"
	@touch $@

test: setup
	@$(VPY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then \
		echo "ERROR: no tests collected (pytest exit code 5); refusing to pass with no tests" >&2; \
		exit 1; \
	fi; \
	exit $$rc

demo: setup
	$(VENV)/bin/seismic-diffusers generate velocity --pipeline pipelines/openfwi-velocity-ddpm \
		--num 16 --steps 25 --seed 0 --out samples/

lint: setup
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)

clean:
	rm -rf samples/ outputs/ .pytest_cache/ .ruff_cache/ build/ dist/ *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
