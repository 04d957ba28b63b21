#!/usr/bin/env python3
"""Hugging Face transformers baseline for `swiftkv bench gpu` (docs/benchmarks.md).

The same random Llama-3.1-8B shape, built from a LlamaConfig in bf16 with SDPA attention (eager
PyTorch, no torch.compile), timed with torch.cuda events:
  prefill: --prefill-seqs prompts of --prompt-len random tokens in one forward (logits for the
           last token only, as the engine computes them);
  decode:  one token per sequence at each --decode-batches size against --context tokens of
           cached K/V (random contents in a DynamicCache, transformers' default cache), one
           forward per step (no sampling).
Prints one JSON object per workload and a markdown table like the engine's.
"""
import argparse
import json
import statistics

import torch
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM


def llama_3_1_8b(num_layers):
    return LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336,
        num_hidden_layers=num_layers, num_attention_heads=32, num_key_value_heads=8,
        head_dim=128, max_position_embeddings=131072, rms_norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        tie_word_embeddings=False, attn_implementation="sdpa")


def time_ms(fn, warmup, iters):
    """Median milliseconds of fn() over iters calls after warmup calls (CUDA events)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def forward(model, **kwargs):
    try:
        return model(**kwargs, logits_to_keep=1)
    except TypeError:  # transformers < 4.45
        return model(**kwargs, num_logits_to_keep=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--prefill-seqs", type=int, default=4)
    parser.add_argument("--prompt-len", type=int, default=2048)
    parser.add_argument("--decode-batches", default="1,64")
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(0)
    config = llama_3_1_8b(args.layers)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config)
    model.eval()
    torch.set_default_dtype(torch.float32)
    import transformers
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name()}, attention {model.config._attn_implementation}")
    rows = []
    with torch.inference_mode():
        ids = torch.randint(0, config.vocab_size, (args.prefill_seqs, args.prompt_len),
                            device="cuda")
        ms = time_ms(lambda: forward(model, input_ids=ids, use_cache=False), 2,
                     max(1, args.iters // 2))
        tokens = args.prefill_seqs * args.prompt_len
        rows.append({"workload": f"prefill {args.prefill_seqs} x {args.prompt_len}",
                     "tokens_per_s": tokens / ms * 1e3, "ms_per_step": ms})
        print(json.dumps(rows[-1]), flush=True)

        kv_heads, head_dim = config.num_key_value_heads, config.head_dim
        for batch in [int(b) for b in args.decode_batches.split(",") if b]:
            try:
                cache = DynamicCache(config=config)
            except TypeError:
                cache = DynamicCache()
            for layer in range(config.num_hidden_layers):
                k = torch.randn(batch, kv_heads, args.context, head_dim, device="cuda",
                                dtype=torch.bfloat16)
                cache.update(k, torch.randn_like(k), layer)
            step = {"position": args.context}

            def decode():
                position = step["position"]
                token = torch.randint(0, config.vocab_size, (batch, 1), device="cuda")
                forward(model, input_ids=token, past_key_values=cache, use_cache=True,
                        position_ids=torch.full((batch, 1), position, device="cuda"),
                        cache_position=torch.tensor([position], device="cuda"))
                step["position"] = position + 1

            ms = time_ms(decode, 3, args.iters)
            rows.append({"workload": f"decode batch {batch}, ctx {args.context}",
                         "tokens_per_s": batch / ms * 1e3, "ms_per_step": ms})
            print(json.dumps(rows[-1]), flush=True)
            del cache
            torch.cuda.empty_cache()
    print("\n| model | engine | workload | tokens/s | ms/step |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| random:llama-3.1-8b | transformers (bf16, SDPA, eager) | {r['workload']} | "
              f"{r['tokens_per_s']:.0f} | {r['ms_per_step']:.2f} |")


if __name__ == "__main__":
    main()
