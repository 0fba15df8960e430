# seismic-diffusers developer tasks.
#
#   make setup     create .venv and install the package (+ dev tools); fast when nothing changed
#   make test      install chromium if possible, then run the test suite (fails if no tests are collected)
#   make space     start the Gradio Space locally (http://127.0.0.1:7860)
#   make browser   install Debian's chromium for the Space's browser test (apt-get; root or sudo)
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

CHROMIUM ?= /usr/bin/chromium

.PHONY: setup test demo space browser lint clean

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

test: setup browser
	@$(VPY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then \
		echo "ERROR: no tests collected (pytest exit code 5); refusing to pass with no tests" >&2; \
		exit 1; \
	fi; \
	exit $$rc

demo: setup
	$(VENV)/bin/seismic-diffusers generate velocity --pipeline pipelines/openfwi-velocity-ddpm \
		--num 16 --family flatvel-a flatvel-b curvevel-a curvevel-b flatfault-a flatfault-b \
		curvefault-a curvefault-b --seed 0 --out samples/

space: setup
	$(VPY) spaces_app/app.py

# Playwright cannot download its own browsers here, so the browser test drives Debian's chromium.
# Without it that one test is skipped with the reason; this target never fails the build.
browser:
	@if [ -x $(CHROMIUM) ]; then echo "chromium: $$($(CHROMIUM) --version 2>/dev/null)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
		echo "chromium: not installed, and no root or sudo to install it; the browser test will be skipped"; \
		exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then \
		echo "chromium: installed $$($(CHROMIUM) --version 2>/dev/null)"; \
	else echo "chromium: could not be installed; the browser test will be skipped"; fi

lint: setup
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)

clean:
	rm -rf samples/ outputs/ .pytest_cache/ .ruff_cache/ build/ dist/ *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
