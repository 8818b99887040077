#!/usr/bin/env bash
# The vllm backend's throughput on a GPU machine that has `vllm` installed but no model hub.
#
#   bash benchmarks/gpu_check.sh --skeleton DIR    # here: config + tokenizer of the converted SmolLM2
#                                                  #   (about 4 MB, small enough to copy along)
#   bash benchmarks/gpu_check.sh MODEL_DIR [ARGS]  # there: run benchmarks/sampling_throughput.py
#   bash benchmarks/gpu_check.sh --rm [RM_DIR]     # there: reward-model scorer throughput on the GPU
#                                                  #   (benchmarks/rm_throughput.py, transformers then
#                                                  #   vLLM's pooling runner; default: the tiny RM
#                                                  #   built from a skeleton's tokenizer, random weights)
#
# MODEL_DIR is a Hugging Face checkpoint directory: the full converted SmolLM2 made by
# .ci/vllm-env (~/.cache/monkeys-swe/models/smollm2-135m-instruct), or a skeleton, which is
# first filled with random weights of the same shapes (throughput does not depend on the values;
# random weights rarely emit EOS, so every sample runs to --max-tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CONVERTED="${XDG_CACHE_HOME:-$HOME/.cache}/monkeys-swe/models/smollm2-135m-instruct"

if [ "${1:-}" = "--skeleton" ]; then
    dest=${2:?usage: gpu_check.sh --skeleton DIR}
    [ -f "$CONVERTED/config.json" ] || { echo "no converted model at $CONVERTED: run bash .ci/vllm-env" >&2; exit 2; }
    mkdir -p "$dest"
    for f in config.json generation_config.json tokenizer.json tokenizer_config.json chat_template.jinja; do
        [ -f "$CONVERTED/$f" ] && cp "$CONVERTED/$f" "$dest/"
    done
    du -sh "$dest"
    exit 0
fi

if [ "${1:-}" = "--rm" ]; then
    "$PY" -c "import torch, vllm; assert torch.cuda.is_available(), 'no CUDA device'" \
        || { echo "gpu_check --rm needs a CUDA GPU and the vllm package" >&2; exit 2; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    rm_args=()
    [ -n "${2:-}" ] && rm_args=(--model "$2")
    "$PY" benchmarks/rm_throughput.py --backend hf --device cuda --attempts 512 --batch 64 "${rm_args[@]}"
    "$PY" benchmarks/rm_throughput.py --backend vllm --device cuda --attempts 512 --batch 256 "${rm_args[@]}"
    exit 0
fi

MODEL=${1:?usage: gpu_check.sh MODEL_DIR [sampling_throughput.py args]}
shift
"$PY" -c "import torch, vllm; assert torch.cuda.is_available(), 'no CUDA device'" \
    || { echo "gpu_check needs a CUDA GPU and the vllm package" >&2; exit 2; }
if ! ls "$MODEL"/*.safetensors >/dev/null 2>&1; then
    echo "[gpu_check] $MODEL has no weights: filling it with random weights of the same shapes" >&2
    "$PY" - "$MODEL" <<'EOF'
import sys, torch
from transformers import AutoConfig, AutoModelForCausalLM
path = sys.argv[1]
torch.manual_seed(0)
model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path), torch_dtype=torch.bfloat16)
model.save_pretrained(path, safe_serialization=True)
EOF
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" benchmarks/sampling_throughput.py --backend vllm --model "$MODEL" \
    --prompts 64 --samples 32 --max-tokens 256 --rounds 2 "$@"
