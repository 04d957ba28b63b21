// `vllm bench serve` metrics (vllm/benchmarks/serve.py: calculate_metrics), from per-request
// client-side measurements. All times in seconds here, reported in ms by the summary.
//
//   TTFT  send -> first SSE message that contains choices
//   ITL   gaps between consecutive choices-bearing messages, pooled over all requests
//   TPOT  per request with > 1 output token: (latency - ttft) / (output_tokens - 1)
//   E2EL  send -> last choices-bearing message
//   throughputs  completed requests, output tokens, input + output tokens per second of
//                benchmark duration (first dispatch to last response)
// Statistics are over successful requests; percentiles use numpy's linear interpolation,
// std is the population standard deviation.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace swiftkv::bench {

struct RequestResult {
  bool success = false;
  std::string error;
  int64_t prompt_len = 0;
  int64_t output_tokens = 0;  // usage.completion_tokens, else the number of token messages
  double ttft = 0.0;
  double latency = 0.0;  // E2EL
  std::vector<double> itl;
  double start = 0.0;  // send time, seconds after the benchmark start
};

struct LatencyStats {  // milliseconds
  double mean = 0.0;
  double median = 0.0;
  double std = 0.0;
  double p99 = 0.0;
};

struct BenchSummary {
  int64_t completed = 0;
  int64_t failed = 0;
  double duration = 0.0;  // seconds
  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0.0;      // req/s
  double output_throughput = 0.0;       // tok/s
  double total_token_throughput = 0.0;  // tok/s
  int64_t max_concurrent_requests = 0;  // peak over [start, start + latency) intervals
  LatencyStats ttft;
  LatencyStats tpot;
  LatencyStats itl;
  LatencyStats e2el;
};

// numpy.percentile(values, p) with linear interpolation; 0 for no values.
double percentile(std::vector<double> values, double p);
// Statistics of `seconds`, in ms.
LatencyStats latency_stats(const std::vector<double>& seconds);

BenchSummary compute_summary(const std::vector<RequestResult>& results, double duration);

// The summary's fields under vLLM's result-file names (mean_ttft_ms, ...).
nlohmann::json summary_json(const BenchSummary& summary);
// The one-screen summary, formatted like vLLM's.
std::string format_summary(const BenchSummary& summary);

}  // namespace swiftkv::bench
