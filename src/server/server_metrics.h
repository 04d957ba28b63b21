// The serving metrics exposed at GET /metrics, with vLLM's names under a `swiftkv:` prefix
// (vLLM docs/design/metrics.md) and a `model_name` label on every series.
//
// Request-level series are observed by the HTTP layer (times measured from the arrival of the
// HTTP request, which includes tokenization, as vLLM does); queue, running, KV-cache and
// prefix-cache values are read from EngineStats at scrape time. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "server/prometheus.h"

namespace swiftkv::server {

class ServerMetrics {
 public:
  explicit ServerMetrics(std::string model_name);

  // One choice (engine request) of an HTTP request.
  void observe_first_token(double seconds_since_arrival, int64_t num_prompt_tokens);
  void observe_inter_token(double seconds);
  void observe_generation_tokens(int64_t count);
  // `finish_reason`: stop, length, abort or error.
  void observe_finished(std::string_view finish_reason, double e2e_seconds,
                        int64_t num_prompt_tokens, int64_t num_generation_tokens);
  // Every HTTP response; `handler` must come from a fixed set (route path or "other").
  void observe_http(const std::string& handler, int status);

  // The exposition text. `stats` is null while no engine is attached (loading).
  std::string render(const EngineStats* stats);

 private:
  std::string model_name_;
  Registry registry_;
  ValueFamily& running_;
  ValueFamily& waiting_;
  ValueFamily& kv_usage_;
  ValueFamily& kv_blocks_total_;
  ValueFamily& preemptions_;
  ValueFamily& prefix_queries_;
  ValueFamily& prefix_hits_;
  ValueFamily& prompt_tokens_;
  ValueFamily& generation_tokens_;
  ValueFamily& request_success_;
  HistogramFamily& request_prompt_tokens_;
  HistogramFamily& request_generation_tokens_;
  HistogramFamily& ttft_;
  HistogramFamily& itl_;
  HistogramFamily& e2e_;
  ValueFamily& http_requests_;
  ValueFamily& engine_steps_;
  ValueFamily& engine_pipelined_steps_;
  ValueFamily& engine_step_seconds_;
};

}  // namespace swiftkv::server
