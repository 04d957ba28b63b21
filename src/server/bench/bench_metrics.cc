// `vllm bench serve` metric definitions; see bench_metrics.h.
#include "server/bench/bench_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <utility>

#include "core/error.h"

namespace swiftkv::bench {
namespace {

void add_stats(nlohmann::json& out, const char* name, const LatencyStats& s) {
  const std::string n = name;
  out["mean_" + n + "_ms"] = s.mean;
  out["median_" + n + "_ms"] = s.median;
  out["std_" + n + "_ms"] = s.std;
  out["p99_" + n + "_ms"] = s.p99;
}

void line(std::string& out, const char* label, double value, int decimals) {
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "%-40s %-10.*f\n", label, decimals, value);
  out += buffer;
}

void heading(std::string& out, const char* title, char fill) {
  const std::string text = title;
  const size_t width = 50;
  const size_t left = text.size() >= width ? 0 : (width - text.size()) / 2;
  const size_t right = text.size() >= width ? 0 : width - text.size() - left;
  out += std::string(left, fill) + text + std::string(right, fill) + "\n";
}

void stats_block(std::string& out, const char* title, const char* name, const LatencyStats& s) {
  heading(out, title, '-');
  line(out, str_cat("Mean ", name, " (ms):").c_str(), s.mean, 2);
  line(out, str_cat("Median ", name, " (ms):").c_str(), s.median, 2);
  line(out, str_cat("P99 ", name, " (ms):").c_str(), s.p99, 2);
}

}  // namespace

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0.0;
  }
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = std::min(lower + 1, values.size() - 1);
  const double fraction = rank - static_cast<double>(lower);
  return values[lower] + (values[upper] - values[lower]) * fraction;
}

LatencyStats latency_stats(const std::vector<double>& seconds) {
  LatencyStats s;
  if (seconds.empty()) {
    return s;
  }
  const double n = static_cast<double>(seconds.size());
  const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / n;
  double variance = 0.0;
  for (const double v : seconds) {
    variance += (v - mean) * (v - mean);
  }
  s.mean = mean * 1000.0;
  s.std = std::sqrt(variance / n) * 1000.0;
  s.median = percentile(seconds, 50.0) * 1000.0;
  s.p99 = percentile(seconds, 99.0) * 1000.0;
  return s;
}

BenchSummary compute_summary(const std::vector<RequestResult>& results, double duration) {
  BenchSummary s;
  s.duration = duration;
  std::vector<double> ttfts;
  std::vector<double> tpots;
  std::vector<double> itls;
  std::vector<double> e2els;
  std::vector<std::pair<double, int>> events;  // (time, +1 start / -1 end)
  for (const RequestResult& r : results) {
    if (!r.success) {
      ++s.failed;
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.prompt_len;
    s.total_output_tokens += r.output_tokens;
    ttfts.push_back(r.ttft);
    e2els.push_back(r.latency);
    if (r.output_tokens > 1) {
      tpots.push_back((r.latency - r.ttft) / static_cast<double>(r.output_tokens - 1));
    }
    itls.insert(itls.end(), r.itl.begin(), r.itl.end());
    events.emplace_back(r.start, 1);
    events.emplace_back(r.start + r.latency, -1);
  }
  std::sort(events.begin(), events.end());  // ends (-1) sort before starts at the same time
  int64_t concurrent = 0;
  for (const auto& [time, delta] : events) {
    concurrent += delta;
    s.max_concurrent_requests = std::max(s.max_concurrent_requests, concurrent);
  }
  if (duration > 0.0) {
    s.request_throughput = static_cast<double>(s.completed) / duration;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration;
    s.total_token_throughput =
        static_cast<double>(s.total_input_tokens + s.total_output_tokens) / duration;
  }
  s.ttft = latency_stats(ttfts);
  s.tpot = latency_stats(tpots);
  s.itl = latency_stats(itls);
  s.e2el = latency_stats(e2els);
  return s;
}

nlohmann::json summary_json(const BenchSummary& s) {
  nlohmann::json out = {{"duration", s.duration},
                        {"completed", s.completed},
                        {"failed", s.failed},
                        {"total_input_tokens", s.total_input_tokens},
                        {"total_output_tokens", s.total_output_tokens},
                        {"request_throughput", s.request_throughput},
                        {"output_throughput", s.output_throughput},
                        {"total_token_throughput", s.total_token_throughput},
                        {"max_concurrent_requests", s.max_concurrent_requests}};
  add_stats(out, "ttft", s.ttft);
  add_stats(out, "tpot", s.tpot);
  add_stats(out, "itl", s.itl);
  add_stats(out, "e2el", s.e2el);
  return out;
}

std::string format_summary(const BenchSummary& s) {
  std::string out;
  heading(out, " Serving Benchmark Result ", '=');
  line(out, "Successful requests:", static_cast<double>(s.completed), 0);
  line(out, "Failed requests:", static_cast<double>(s.failed), 0);
  line(out, "Benchmark duration (s):", s.duration, 2);
  line(out, "Total input tokens:", static_cast<double>(s.total_input_tokens), 0);
  line(out, "Total generated tokens:", static_cast<double>(s.total_output_tokens), 0);
  line(out, "Request throughput (req/s):", s.request_throughput, 2);
  line(out, "Output token throughput (tok/s):", s.output_throughput, 2);
  line(out, "Total token throughput (tok/s):", s.total_token_throughput, 2);
  line(out, "Peak concurrent requests:", static_cast<double>(s.max_concurrent_requests), 0);
  stats_block(out, "Time to First Token", "TTFT", s.ttft);
  stats_block(out, "Time per Output Token (excl. 1st token)", "TPOT", s.tpot);
  stats_block(out, "Inter-token Latency", "ITL", s.itl);
  stats_block(out, "End-to-end Latency", "E2EL", s.e2el);
  out += std::string(50, '=') + "\n";
  return out;
}

}  // namespace swiftkv::bench
