#!/usr/bin/env bash
# The GPU check of per-chunk LLM training, for a machine with one CUDA GPU and vllm installed
# (never needed on CPU): benchmarks/llm_chunked.py on configs/llm_chunked_gpu.yaml (vLLM
# colocate, groups of 8, bf16) with a short GRPO phase, inside 10 minutes. Writes
# benchmarks/results/gpu_llm.{json,md} (the run folder under runs/gpu_bench), plus
# $OUT/gpu_llm.* and $OUT/run.log when $OUT is set (the device tool's output folder).
#
#   bash benchmarks/gpu_llm.sh            # PYTHON=... to pick the interpreter
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
OUT=${OUT:-}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
log=${OUT:-/tmp}/run.log
"$PYTHON" - <<'PY' 2>&1 | tee "$log"
import importlib.util, torch
assert torch.cuda.is_available(), "gpu_llm.sh needs a CUDA GPU"
print("gpu:", torch.cuda.get_device_name(0), "| torch", torch.__version__,
      "| vllm", "yes" if importlib.util.find_spec("vllm") else "MISSING")
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
# 9.5 minutes for everything: vLLM start-up, the untrained eval, SFT, GRPO (3 min), two evals.
timeout 570 "$PYTHON" benchmarks/llm_chunked.py --config configs/llm_chunked_gpu.yaml \
    --episodes 4 --grpo-minutes 3 --grpo-steps 200 --output-dir runs/gpu_bench \
    --out benchmarks/results/gpu_llm 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
if [ -n "$OUT" ]; then
    cp benchmarks/results/gpu_llm.json benchmarks/results/gpu_llm.md "$OUT"/ 2>/dev/null
    cp runs/gpu_bench/llm-chunked-gpu/rollouts.jsonl "$OUT"/ 2>/dev/null
fi
exit "$status"
