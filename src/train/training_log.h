// Progress reporting of a training run: a one-line progress bar on stderr (loss, learning rate,
// tokens/s, ETA), the JSONL metrics log, and the loss-curve plot (hand-written SVG).
// Not thread-safe; the trainer's thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace swiftkv {

class ProgressBar {
 public:
  ProgressBar(int64_t total_steps, bool enabled);
  // Redraws (at most ~10 times a second, and always on the last step).
  void update(int64_t step, double loss, double learning_rate, double tokens_per_second);
  void finish();

 private:
  int64_t total_steps_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  int64_t first_step_ = -1;
};

// "1h02m03s" / "02m03s" / "3s".
std::string format_duration(double seconds);

// Appends JSON lines to `path` (created or, on resume, appended to); flushed every line.
class MetricsLog {
 public:
  MetricsLog(const std::string& path, bool append);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const std::string& json_line);

 private:
  std::FILE* file_ = nullptr;
};

struct PlotSeries {
  std::string name;
  std::string color;  // SVG color, e.g. "#1f77b4"
  std::vector<double> x;
  std::vector<double> y;
  bool markers = false;  // points instead of a line
};

// Writes a line plot (log-scale y when every value is positive) with axes, ticks and a legend.
void write_svg_plot(const std::string& path, const std::string& title, const std::string& x_label,
                    const std::string& y_label, const std::vector<PlotSeries>& series);

// Reads metrics.jsonl and plots the training loss (per step) and the held-out KL (per eval).
void write_loss_curve(const std::string& metrics_path, const std::string& svg_path);

}  // namespace swiftkv
