// `swiftkv bench serve`: a load client for an OpenAI-compatible server with `vllm bench serve`'s
// workload and metrics (bench_metrics.h).
//
// Workload: --num-prompts random prompts of exactly --input-len tokens (random words,
// tokenized by the server's /tokenize and cut to length; sent as a token-id list to
// /v1/completions, or detokenized into one user message for /v1/chat/completions, whose
// prompt length then comes from usage), each asking for --output-len tokens with ignore_eos,
// streamed with usage. Arrivals are a Poisson process of --request-rate (inf: all at once),
// rescaled so that the last arrival is at num_prompts / rate, as vLLM does; at most
// --max-concurrency requests are in flight (0: no limit). One warm-up request checks the
// server first and is not measured. One thread per in-flight request.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/bench/bench_metrics.h"

namespace swiftkv::bench {

struct BenchServeOptions {
  std::string base_url = "http://127.0.0.1:8000";
  std::string endpoint = "/v1/completions";
  std::string model;  // empty: the server's first model
  std::string api_key;
  int64_t input_len = 1024;
  int64_t output_len = 128;
  int64_t num_prompts = 100;
  double request_rate = 0.0;  // requests/s; <= 0 or inf: all at once
  int64_t max_concurrency = 0;
  uint64_t seed = 0;
  double temperature = 0.0;
  double timeout_seconds = 3600.0;  // per request
};

struct BenchServeResult {
  BenchSummary summary;
  std::vector<RequestResult> requests;
  std::string model;
};

// Runs the benchmark. Throws Error when the server cannot be reached, the prompts cannot be
// built, or the warm-up request fails. Progress goes to stderr.
BenchServeResult run_bench_serve(const BenchServeOptions& options);

// The result file: options, summary (vLLM's names) and per-request arrays.
nlohmann::json result_json(const BenchServeOptions& options, const BenchServeResult& result);

}  // namespace swiftkv::bench
