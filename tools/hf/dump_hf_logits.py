#!/usr/bin/env python3
"""Golden logits from Hugging Face transformers, for the CPU parity tests (tests/model).

Run on the GPU machine (it has torch + transformers; this machine and CI do not):
    python3 tools/hf/dump_hf_logits.py --stories-hf models/stories260K --out tests/fixtures/hf

Writes, under --out:
  tiny-llama3/            a tiny random Llama-3-style model (GQA, llama3 rope scaling, untied
                          head, bf16 weights) saved by transformers' save_pretrained
  tiny-llama3/golden/     logits.safetensors ([num_tokens, vocab] f32) + golden.json (input ids)
  stories260K/golden/     the same for stories260K as converted by `swiftkv convert`, plus the
                          greedy continuation transformers produces from BOS
Logits are computed in float32 with the eager attention implementation: the weights are
upcast exactly (bf16 -> f32), so the C++ engine's f32 path must match to ~1e-5 relative.
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM


def dump(model, input_ids, out_dir, extra):
    os.makedirs(out_dir, exist_ok=True)
    model = model.float().eval()
    with torch.no_grad():
        ids = torch.tensor([input_ids], dtype=torch.long)
        logits = model(ids).logits[0].float().contiguous()
    save_file({"logits": logits}, os.path.join(out_dir, "logits.safetensors"))
    info = {"input_ids": input_ids, "transformers_version": transformers.__version__,
            "torch_version": torch.__version__, "attn_implementation": "eager",
            "compute_dtype": "float32"}
    info.update(extra)
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(out_dir, "logits", tuple(logits.shape), "max |logit|", logits.abs().max().item())


def tiny_llama3(out_root):
    torch.manual_seed(1234)
    config = LlamaConfig(
        vocab_size=320, hidden_size=64, intermediate_size=160, num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
        bos_token_id=1, eos_token_id=[2, 3], torch_dtype="bfloat16",
        attn_implementation="eager")
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger-than-default weights so that errors are visible
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.08)
            else:
                p.uniform_(0.5, 1.5)
    model = model.to(torch.bfloat16)
    model_dir = os.path.join(out_root, "tiny-llama3")
    model.save_pretrained(model_dir, safe_serialization=True)
    # Positions past original_max_position_embeddings exercise every llama3 frequency band.
    gen = torch.Generator().manual_seed(7)
    input_ids = torch.randint(0, config.vocab_size, (96,), generator=gen).tolist()
    reloaded = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16,
                                                attn_implementation="eager")
    dump(reloaded, input_ids, os.path.join(model_dir, "golden"), {})


def stories(stories_dir, out_root):
    model = LlamaForCausalLM.from_pretrained(stories_dir, torch_dtype=torch.float32,
                                             attn_implementation="eager").eval()
    model.generation_config.eos_token_id = None  # run.c semantics: never stop early
    with torch.no_grad():
        out = model.generate(torch.tensor([[1]]), max_new_tokens=256, do_sample=False,
                             pad_token_id=0)
    greedy = out[0, 1:].tolist()
    input_ids = [1] + greedy[:79]
    dump(model, input_ids, os.path.join(out_root, "stories260K", "golden"),
         {"hf_greedy_from_bos_256": greedy})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stories-hf", required=True, help="stories260K converted to HF format")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tiny_llama3(args.out)
    stories(args.stories_hf, args.out)


if __name__ == "__main__":
    main()
