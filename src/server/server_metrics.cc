// Serving metrics; see server_metrics.h. Bucket bounds follow vLLM's (vllm/v1/metrics/
// loggers.py), with sub-millisecond buckets added for small models on CPU.
#include "server/server_metrics.h"

#include <array>
#include <utility>
#include <vector>

namespace swiftkv::server {
namespace {

constexpr std::array<double, 17> kTokenCountBuckets = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000};
constexpr std::array kTtftBuckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                     0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                     20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
constexpr std::array kItlBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                    0.1,    0.15,  0.2,    0.3,   0.4,  0.5,   0.75, 1.0,
                                    2.5,    5.0,   7.5,    10.0,  20.0, 40.0,  80.0};
constexpr std::array kE2eBuckets = {0.01, 0.05, 0.1,   0.3,   0.5,   0.8,   1.0,    1.5,
                                    2.0,  2.5,  5.0,   10.0,  15.0,  20.0,  30.0,   40.0,
                                    50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

template <size_t N>
std::vector<double> bounds(const std::array<double, N>& values) {
  return {values.begin(), values.end()};
}

}  // namespace

ServerMetrics::ServerMetrics(std::string model_name)
    : model_name_(std::move(model_name)),
      running_(registry_.gauge("swiftkv:num_requests_running",
                               "Number of requests in model execution batches.", {"model_name"})),
      waiting_(registry_.gauge("swiftkv:num_requests_waiting",
                               "Number of requests waiting to be processed.", {"model_name"})),
      kv_usage_(registry_.gauge("swiftkv:kv_cache_usage_perc",
                                "KV-cache usage: fraction of blocks held by live requests (0-1).",
                                {"model_name"})),
      kv_blocks_total_(registry_.gauge("swiftkv:kv_cache_num_blocks",
                                       "KV-cache capacity in blocks.", {"model_name"})),
      preemptions_(registry_.counter("swiftkv:num_preemptions_total",
                                     "Cumulative number of preemptions.", {"model_name"})),
      prefix_queries_(registry_.counter(
          "swiftkv:prefix_cache_queries_total",
          "Prefix-cache queries: prompt tokens looked up in the prefix cache.", {"model_name"})),
      prefix_hits_(registry_.counter("swiftkv:prefix_cache_hits_total",
                                     "Prefix-cache hits: prompt tokens found in the prefix cache.",
                                     {"model_name"})),
      prompt_tokens_(registry_.counter("swiftkv:prompt_tokens_total",
                                       "Number of prefill tokens processed.", {"model_name"})),
      generation_tokens_(registry_.counter("swiftkv:generation_tokens_total",
                                           "Number of generation tokens processed.",
                                           {"model_name"})),
      request_success_(registry_.counter("swiftkv:request_success_total",
                                         "Count of finished requests by finish reason.",
                                         {"model_name", "finished_reason"})),
      request_prompt_tokens_(registry_.histogram("swiftkv:request_prompt_tokens",
                                                 "Number of prefill tokens per request.",
                                                 {"model_name"}, bounds(kTokenCountBuckets))),
      request_generation_tokens_(registry_.histogram("swiftkv:request_generation_tokens",
                                                     "Number of generation tokens per request.",
                                                     {"model_name"}, bounds(kTokenCountBuckets))),
      ttft_(registry_.histogram("swiftkv:time_to_first_token_seconds",
                                "Time to first token in seconds (from HTTP arrival).",
                                {"model_name"}, bounds(kTtftBuckets))),
      itl_(registry_.histogram("swiftkv:inter_token_latency_seconds",
                               "Time between consecutive output deltas in seconds.", {"model_name"},
                               bounds(kItlBuckets))),
      e2e_(registry_.histogram("swiftkv:e2e_request_latency_seconds",
                               "End-to-end request latency in seconds (from HTTP arrival).",
                               {"model_name"}, bounds(kE2eBuckets))),
      http_requests_(registry_.counter("swiftkv:http_requests_total",
                                       "HTTP responses by handler and status.",
                                       {"handler", "status"})),
      engine_steps_(registry_.counter("swiftkv:engine_steps_total",
                                      "Engine steps (schedule, model step, outputs) run.",
                                      {"model_name"})),
      engine_pipelined_steps_(registry_.counter(
          "swiftkv:engine_pipelined_steps_total",
          "Engine steps queued on the GPU before the previous step's tokens were back.",
          {"model_name"})),
      engine_step_seconds_(registry_.counter(
          "swiftkv:engine_step_seconds_total",
          "Engine-thread wall time by step phase: schedule, execute (the model step with "
          "sampling, device time included), output (detokenization, stop strings, delivery).",
          {"model_name", "phase"})) {
  // Create the label-less series up front so that a scrape shows every metric from the start.
  for (ValueFamily* family : {&running_, &waiting_, &kv_usage_, &kv_blocks_total_, &preemptions_,
                              &prefix_queries_, &prefix_hits_, &prompt_tokens_, &generation_tokens_,
                              &engine_steps_, &engine_pipelined_steps_}) {
    family->with({model_name_});
  }
  for (const char* phase : {"schedule", "execute", "output"}) {
    engine_step_seconds_.with({model_name_, phase});
  }
  for (const char* reason : {"stop", "length", "abort", "error"}) {
    request_success_.with({model_name_, reason});
  }
  for (HistogramFamily* family :
       {&request_prompt_tokens_, &request_generation_tokens_, &ttft_, &itl_, &e2e_}) {
    family->with({model_name_});
  }
}

void ServerMetrics::observe_first_token(double seconds_since_arrival, int64_t num_prompt_tokens) {
  ttft_.with({model_name_}).observe(seconds_since_arrival);
  prompt_tokens_.with({model_name_}).inc(static_cast<double>(num_prompt_tokens));
}

void ServerMetrics::observe_inter_token(double seconds) {
  itl_.with({model_name_}).observe(seconds);
}

void ServerMetrics::observe_generation_tokens(int64_t count) {
  generation_tokens_.with({model_name_}).inc(static_cast<double>(count));
}

void ServerMetrics::observe_finished(std::string_view finish_reason, double e2e_seconds,
                                     int64_t num_prompt_tokens, int64_t num_generation_tokens) {
  request_success_.with({model_name_, std::string(finish_reason)}).inc();
  e2e_.with({model_name_}).observe(e2e_seconds);
  request_prompt_tokens_.with({model_name_}).observe(static_cast<double>(num_prompt_tokens));
  request_generation_tokens_.with({model_name_})
      .observe(static_cast<double>(num_generation_tokens));
}

void ServerMetrics::observe_http(const std::string& handler, int status) {
  http_requests_.with({handler, std::to_string(status)}).inc();
}

std::string ServerMetrics::render(const EngineStats* stats) {
  if (stats != nullptr) {
    running_.with({model_name_}).set(static_cast<double>(stats->num_running));
    waiting_.with({model_name_}).set(static_cast<double>(stats->num_waiting));
    const double total = static_cast<double>(stats->num_blocks_total);
    kv_usage_.with({model_name_})
        .set(total > 0 ? static_cast<double>(stats->num_blocks_used) / total : 0.0);
    kv_blocks_total_.with({model_name_}).set(total);
    preemptions_.with({model_name_}).set(static_cast<double>(stats->num_preemptions));
    prefix_queries_.with({model_name_}).set(static_cast<double>(stats->prefix_cache_queries));
    prefix_hits_.with({model_name_}).set(static_cast<double>(stats->prefix_cache_hits));
    engine_steps_.with({model_name_}).set(static_cast<double>(stats->num_steps));
    engine_pipelined_steps_.with({model_name_})
        .set(static_cast<double>(stats->num_pipelined_steps));
    engine_step_seconds_.with({model_name_, "schedule"}).set(stats->schedule_seconds);
    engine_step_seconds_.with({model_name_, "execute"}).set(stats->execute_seconds);
    engine_step_seconds_.with({model_name_, "output"}).set(stats->output_seconds);
  }
  return registry_.render();
}

}  // namespace swiftkv::server
