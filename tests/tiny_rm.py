"""A tiny sequence-classification reward model built and saved locally (no download): a 2-layer
LlamaForSequenceClassification with random weights (seeded) and the embedded SmolLM2's tokenizer
and chat template (the safetensors conversion .ci/vllm-env makes). Run under .venv-vllm.

    python tests/tiny_rm.py DEST   # prints DEST
"""
from __future__ import annotations

import sys
from pathlib import Path


def build_tiny_rm(dest: Path, seed: int = 0) -> Path:
    if (dest / "config.json").is_file() and list(dest.glob("*.safetensors")):
        return dest
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from monkeys_swe.samplers.vllm import ensure_default_checkpoint

    tok = AutoTokenizer.from_pretrained(ensure_default_checkpoint())
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=2048,
                         num_labels=1, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    model = LlamaForSequenceClassification(config).to(torch.float32)
    with torch.no_grad():  # random weights, but rewards spread enough to rank attempts
        model.score.weight.normal_(0, 1.0)
    tmp = dest.with_name(dest.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    tmp.rename(dest)
    return dest


if __name__ == "__main__":
    print(build_tiny_rm(Path(sys.argv[1])))
