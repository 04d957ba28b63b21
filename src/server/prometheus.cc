// Prometheus registry and text rendering; see prometheus.h.
#include "server/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <type_traits>
#include <utility>

#include "core/error.h"

namespace swiftkv::server {
namespace {

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} plus an optional extra label (le="...") last; empty when no labels at all.
std::string label_block(const std::vector<std::string>& names,
                        const std::vector<std::string>& values, const std::string& extra_name = {},
                        const std::string& extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (out.empty() ? "{" : ",") + names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += (out.empty() ? "{" : ",") + extra_name + "=\"" + extra_value + "\"";
  }
  if (!out.empty()) {
    out += "}";
  }
  return out;
}

void render_series(std::string& out, const std::string& name,
                   const std::vector<std::string>& labels, const std::vector<std::string>& values,
                   const MetricValue& metric) {
  out += name + label_block(labels, values) + " " + format_metric_number(metric.value()) + "\n";
}

void render_series(std::string& out, const std::string& name,
                   const std::vector<std::string>& labels, const std::vector<std::string>& values,
                   const Histogram& histogram) {
  const std::vector<uint64_t> counts = histogram.cumulative_counts();
  const std::vector<double>& bounds = histogram.upper_bounds();
  for (size_t i = 0; i < counts.size(); ++i) {
    const std::string le = i < bounds.size() ? format_metric_number(bounds[i]) : "+Inf";
    out += name + "_bucket" + label_block(labels, values, "le", le) + " " +
           std::to_string(counts[i]) + "\n";
  }
  out += name + "_sum" + label_block(labels, values) + " " + format_metric_number(histogram.sum()) +
         "\n";
  out += name + "_count" + label_block(labels, values) + " " + std::to_string(histogram.count()) +
         "\n";
}

}  // namespace

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : upper_bounds_(upper_bounds),
      bucket_counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds.size() + 1)) {
  SWIFTKV_CHECK(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()),
                "histogram bounds must be sorted");
}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  bucket_counts_[static_cast<size_t>(it - upper_bounds_.begin())].fetch_add(
      1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    total += bucket_counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

template <typename T>
MetricFamily<T>::MetricFamily(std::string name, std::string help, MetricType type,
                              std::vector<std::string> label_names,
                              std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

template <typename T>
T& MetricFamily<T>::with(const std::vector<std::string>& label_values) {
  SWIFTKV_CHECK(label_values.size() == label_names_.size(), "metric ", name_, " takes ",
                label_names_.size(), " labels, got ", label_values.size());
  const std::lock_guard lock(mutex_);
  std::unique_ptr<T>& series = series_[label_values];
  if (!series) {
    if constexpr (std::is_same_v<T, Histogram>) {
      series = std::make_unique<Histogram>(upper_bounds_);
    } else {
      series = std::make_unique<T>();
    }
  }
  return *series;
}

template <typename T>
void MetricFamily<T>::render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n";
  out += "# TYPE " + name_ + " " + type_name(type_) + "\n";
  const std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    render_series(out, name_, label_names_, values, *series);
  }
}

template class MetricFamily<MetricValue>;
template class MetricFamily<Histogram>;

ValueFamily& Registry::counter(std::string name, std::string help,
                               std::vector<std::string> labels) {
  families_.push_back({std::make_unique<ValueFamily>(std::move(name), std::move(help),
                                                     MetricType::kCounter, std::move(labels)),
                       nullptr});
  return *families_.back().value;
}

ValueFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  families_.push_back({std::make_unique<ValueFamily>(std::move(name), std::move(help),
                                                     MetricType::kGauge, std::move(labels)),
                       nullptr});
  return *families_.back().value;
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> labels,
                                     std::vector<double> upper_bounds) {
  families_.push_back({nullptr, std::make_unique<HistogramFamily>(
                                    std::move(name), std::move(help), MetricType::kHistogram,
                                    std::move(labels), std::move(upper_bounds))});
  return *families_.back().histogram;
}

std::string Registry::render() const {
  std::string out;
  for (const Entry& entry : families_) {
    if (entry.value) {
      entry.value->render(out);
    } else {
      entry.histogram->render(out);
    }
  }
  return out;
}

std::string format_metric_number(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return {buffer, result.ptr};
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace swiftkv::server
