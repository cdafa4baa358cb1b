# Two entry points, both idempotent on a fresh Debian machine:
#   make run   — install everything, then run the main job (MiniWoB++ with the CPU stack)
#   make test  — install everything, then the whole test suite
# Set EXTRAS=dev,models,train (etc.) to install more extras; TORCH_SPEC to choose the torch build.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,models,ui,data,train,ray
# CPU torch from the local wheel on machines without a GPU; GPU users install CUDA torch first
# (see README) and the pin below is then already satisfied.
TORCH_SPEC ?= torch==2.13.0
APT_PACKAGES := chromium xvfb xdotool xterm x11vnc x11-xserver-utils fonts-dejavu-core fonts-liberation
SEEDS ?= 3
STAMP := $(VENV)/.installed

.PHONY: run test install system-deps demo clean

WORKERS ?= 2

run: install
	$(VENV)/bin/cua eval --suite miniwob-cpu --seeds $(SEEDS) --workers $(WORKERS) --out runs/main/miniwob
	$(VENV)/bin/cua eval --suite synthetic-easy --seeds $(SEEDS) --workers $(WORKERS) --out runs/main/synthetic

test: install
	$(PY) -m pytest -q -p no:cacheprovider tests

install: system-deps $(STAMP)

# Debian packages: installed only when a binary is missing.
system-deps:
	@missing=""; \
	for bin in chromium Xvfb xdotool xterm x11vnc xmodmap; do command -v $$bin >/dev/null || missing=1; done; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing=1; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $(APT_PACKAGES); \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstalls only when pyproject.toml changes (the stamp is older than it).
$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

# The Gradio app on http://127.0.0.1:7860 (watch an agent live, browse trajectories).
demo: install
	$(PY) app.py --runs-dir runs

clean:
	rm -rf $(VENV) runs .pytest_cache
