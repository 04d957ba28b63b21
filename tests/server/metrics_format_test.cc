// Prometheus text format (prometheus.h), SSE framing (sse.h) and parsing (bench/sse_parser.h),
// and the `vllm bench serve` metric definitions (bench/bench_metrics.h). No HTTP.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/bench/bench_metrics.h"
#include "server/bench/sse_parser.h"
#include "server/prometheus.h"
#include "server/server_metrics.h"
#include "server/sse.h"

namespace swiftkv::server {
namespace {

TEST(PrometheusTest, RendersCountersGaugesAndHistograms) {
  Registry registry;
  ValueFamily& requests = registry.counter("x:requests_total", "Requests.", {"model", "reason"});
  ValueFamily& running = registry.gauge("x:running", "Running.", {});
  HistogramFamily& latency =
      registry.histogram("x:latency_seconds", "Latency.", {"model"}, {0.1, 1.0});
  requests.with({"m", "stop"}).inc();
  requests.with({"m", "stop"}).inc(2);
  running.with({}).set(3);
  latency.with({"m"}).observe(0.05);
  latency.with({"m"}).observe(0.1);  // bounds are inclusive (le)
  latency.with({"m"}).observe(5.0);
  EXPECT_EQ(registry.render(),
            "# HELP x:requests_total Requests.\n"
            "# TYPE x:requests_total counter\n"
            "x:requests_total{model=\"m\",reason=\"stop\"} 3\n"
            "# HELP x:running Running.\n"
            "# TYPE x:running gauge\n"
            "x:running 3\n"
            "# HELP x:latency_seconds Latency.\n"
            "# TYPE x:latency_seconds histogram\n"
            "x:latency_seconds_bucket{model=\"m\",le=\"0.1\"} 2\n"
            "x:latency_seconds_bucket{model=\"m\",le=\"1\"} 2\n"
            "x:latency_seconds_bucket{model=\"m\",le=\"+Inf\"} 3\n"
            "x:latency_seconds_sum{model=\"m\"} 5.15\n"
            "x:latency_seconds_count{model=\"m\"} 3\n");
}

TEST(PrometheusTest, NumbersAndEscapes) {
  EXPECT_EQ(format_metric_number(0.25), "0.25");
  EXPECT_EQ(format_metric_number(1e-3), "0.001");
  EXPECT_EQ(format_metric_number(12345678), "12345678");
  EXPECT_EQ(format_metric_number(1.0 / 0.0), "+Inf");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(ServerMetricsTest, ExposesTheServingMetrics) {
  ServerMetrics metrics("m");
  metrics.observe_first_token(0.02, 10);
  metrics.observe_inter_token(0.004);
  metrics.observe_generation_tokens(5);
  metrics.observe_finished("length", 0.5, 10, 5);
  EngineStats stats;
  stats.num_running = 2;
  stats.num_waiting = 3;
  stats.num_blocks_total = 100;
  stats.num_blocks_used = 25;
  stats.prefix_cache_queries = 40;
  stats.prefix_cache_hits = 16;
  stats.num_steps = 7;
  stats.num_pipelined_steps = 4;
  stats.execute_seconds = 1.5;
  const std::string text = metrics.render(&stats);
  for (const char* line :
       {"swiftkv:num_requests_running{model_name=\"m\"} 2",
        "swiftkv:num_requests_waiting{model_name=\"m\"} 3",
        "swiftkv:kv_cache_usage_perc{model_name=\"m\"} 0.25",
        "swiftkv:prefix_cache_queries_total{model_name=\"m\"} 40",
        "swiftkv:prefix_cache_hits_total{model_name=\"m\"} 16",
        "swiftkv:prompt_tokens_total{model_name=\"m\"} 10",
        "swiftkv:generation_tokens_total{model_name=\"m\"} 5",
        "swiftkv:request_success_total{model_name=\"m\",finished_reason=\"length\"} 1",
        "swiftkv:request_success_total{model_name=\"m\",finished_reason=\"abort\"} 0",
        "swiftkv:time_to_first_token_seconds_count{model_name=\"m\"} 1",
        "swiftkv:inter_token_latency_seconds_count{model_name=\"m\"} 1",
        "swiftkv:e2e_request_latency_seconds_count{model_name=\"m\"} 1",
        "swiftkv:engine_steps_total{model_name=\"m\"} 7",
        "swiftkv:engine_pipelined_steps_total{model_name=\"m\"} 4",
        "swiftkv:engine_step_seconds_total{model_name=\"m\",phase=\"execute\"} 1.5",
        "swiftkv:engine_step_seconds_total{model_name=\"m\",phase=\"output\"} 0"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line;
  }
}

TEST(SseTest, FramesAndDone) {
  EXPECT_EQ(sse_event(nlohmann::json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  // Invalid UTF-8 never makes serialisation throw.
  EXPECT_EQ(dump_json(nlohmann::json("a\xff")), "\"a\xEF\xBF\xBD\"");
}

TEST(SseParserTest, SplitsEventsAcrossFeeds) {
  std::vector<std::string> events;
  bench::SseParser parser([&](const std::string& data) { events.push_back(data); });
  parser.feed("data: {\"a\"");
  parser.feed(":1}\n\n: keep-alive\n\ndata: x\r\ndata: y\r\n\r\nevent: e\ndata:[DONE]\n\n");
  parser.feed("data: tail");
  parser.finish();
  EXPECT_EQ(events, (std::vector<std::string>{"{\"a\":1}", "x\ny", "[DONE]", "tail"}));
}

TEST(BenchMetricsTest, PercentilesMatchNumpy) {
  EXPECT_DOUBLE_EQ(bench::percentile({1, 2, 3, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(bench::percentile({4, 1, 3, 2}, 99), 3.97);
  EXPECT_DOUBLE_EQ(bench::percentile({7}, 99), 7);
  EXPECT_DOUBLE_EQ(bench::percentile({}, 50), 0);
}

TEST(BenchMetricsTest, VllmDefinitions) {
  auto ok = [](int64_t output_tokens, double ttft, double latency, std::vector<double> itl,
               double start) {
    bench::RequestResult r;
    r.success = true;
    r.prompt_len = 10;
    r.output_tokens = output_tokens;
    r.ttft = ttft;
    r.latency = latency;
    r.itl = std::move(itl);
    r.start = start;
    return r;
  };
  std::vector<bench::RequestResult> results = {
      ok(5, 0.1, 0.5, {0.1, 0.1, 0.1, 0.1}, 0.0), ok(1, 0.2, 0.2, {}, 0.3), {}};
  results[2].error = "boom";
  results[2].prompt_len = 10;
  const bench::BenchSummary s = bench::compute_summary(results, 2.0);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.total_input_tokens, 20);
  EXPECT_EQ(s.total_output_tokens, 6);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(s.output_throughput, 3.0);
  EXPECT_DOUBLE_EQ(s.total_token_throughput, 13.0);
  EXPECT_DOUBLE_EQ(s.ttft.mean, 150.0);
  EXPECT_DOUBLE_EQ(s.tpot.mean, 100.0);  // (0.5 - 0.1) / 4; one-token requests have no TPOT
  EXPECT_DOUBLE_EQ(s.itl.median, 100.0);
  EXPECT_DOUBLE_EQ(s.e2el.mean, 350.0);
  EXPECT_EQ(s.max_concurrent_requests, 2);  // [0, 0.5) and [0.3, 0.5) overlap
  const nlohmann::json j = bench::summary_json(s);
  EXPECT_DOUBLE_EQ(j.at("mean_ttft_ms").get<double>(), 150.0);
  EXPECT_NE(bench::format_summary(s).find("Mean TTFT (ms):"), std::string::npos);
}

}  // namespace
}  // namespace swiftkv::server
