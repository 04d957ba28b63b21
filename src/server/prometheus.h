// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Families are registered once at start-up (names are used as given: counters carry their
// `_total` suffix); each label-value combination gets its own series on first use. Series are
// never removed, so references returned by with() stay valid for the registry's lifetime.
// Thread-safe: updates are lock-free atomics; with() and render() take the family's mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace swiftkv::server {

// A counter or gauge value.
class MetricValue {
 public:
  void inc(double delta = 1.0) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& upper_bounds);
  void observe(double value);
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Cumulative count of observations <= upper_bounds()[i] (the last entry: +Inf).
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // [upper_bounds.size() + 1]
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric name with its series. `T` is MetricValue or Histogram.
template <typename T>
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, std::vector<double> upper_bounds = {});

  // The series for `label_values` (one per label name), created on first use.
  T& with(const std::vector<std::string>& label_values);
  void render(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

using ValueFamily = MetricFamily<MetricValue>;
using HistogramFamily = MetricFamily<Histogram>;

class Registry {
 public:
  ValueFamily& counter(std::string name, std::string help, std::vector<std::string> labels);
  ValueFamily& gauge(std::string name, std::string help, std::vector<std::string> labels);
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> labels,
                             std::vector<double> upper_bounds);
  // All families, in registration order.
  std::string render() const;

 private:
  struct Entry {
    std::unique_ptr<ValueFamily> value;
    std::unique_ptr<HistogramFamily> histogram;
  };
  std::vector<Entry> families_;  // filled at start-up only
};

// Number formatting of the exposition format: shortest round-trip, "+Inf", "-Inf", "NaN".
std::string format_metric_number(double value);
// A label value with \, " and newline escaped.
std::string escape_label_value(const std::string& value);

}  // namespace swiftkv::server
