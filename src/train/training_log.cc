#include "train/training_log.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"

namespace swiftkv {

ProgressBar::ProgressBar(int64_t total_steps, bool enabled)
    : total_steps_(std::max<int64_t>(total_steps, 1)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm%02llds", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  } else if (total >= 60) {
    std::snprintf(buf, sizeof(buf), "%02lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(total));
  }
  return buf;
}

void ProgressBar::update(int64_t step, double loss, double learning_rate,
                         double tokens_per_second) {
  if (!enabled_) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (first_step_ < 0) {
    first_step_ = step - 1;
    start_ = now;
  }
  if (step < total_steps_ && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const auto done = static_cast<double>(step - first_step_);
  const double eta = done > 0 ? elapsed / done * static_cast<double>(total_steps_ - step) : 0.0;
  constexpr int kWidth = 24;
  const auto filled = static_cast<int>(kWidth * step / total_steps_);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) {
    bar += '>';
    bar.append(static_cast<size_t>(kWidth - filled - 1), ' ');
  }
  std::fprintf(stderr, "\r[%s] %lld/%lld loss %.4g lr %.2e %.0f tok/s ETA %s   ", bar.c_str(),
               static_cast<long long>(step), static_cast<long long>(total_steps_), loss,
               learning_rate, tokens_per_second, format_duration(eta).c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && first_step_ >= 0) {
    std::fputc('\n', stderr);
  }
}

MetricsLog::MetricsLog(const std::string& path, bool append)
    : file_(std::fopen(path.c_str(), append ? "a" : "w")) {
  if (file_ == nullptr) {
    throw Error(str_cat("cannot write metrics log ", path));
  }
}

MetricsLog::~MetricsLog() { std::fclose(file_); }

void MetricsLog::write(const std::string& json_line) {
  std::fputs(json_line.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

void write_svg_plot(const std::string& path, const std::string& title, const std::string& x_label,
                    const std::string& y_label, const std::vector<PlotSeries>& series) {
  constexpr double kWidth = 720, kHeight = 440, kLeft = 70, kRight = 170, kTop = 40, kBottom = 50;
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = x_min, y_max = -x_min;
  bool positive = true;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, s.y[i]);
      y_max = std::max(y_max, s.y[i]);
      positive = positive && s.y[i] > 0;
    }
  }
  if (!std::isfinite(x_min)) {
    x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  }
  if (x_max <= x_min) x_max = x_min + 1;
  const bool log_y = positive && y_max > 0;
  auto ty = [&](double y) { return log_y ? std::log10(y) : y; };
  double lo = ty(y_min), hi = ty(y_max);
  if (hi <= lo) hi = lo + 1;
  const double pad = (hi - lo) * 0.05;
  lo -= pad, hi += pad;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * plot_w; };
  auto py = [&](double y) { return kTop + (hi - ty(y)) / (hi - lo) * plot_h; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kWidth / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
      << escape_xml(title) << "</text>\n"
      << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 5; ++i) {  // ticks
    const double xv = x_min + (x_max - x_min) * i / 5;
    const double yt = lo + (hi - lo) * i / 5;
    const double yv = log_y ? std::pow(10.0, yt) : yt;
    svg << "<text x=\"" << fmt(px(xv)) << "\" y=\"" << fmt(kTop + plot_h + 18)
        << "\" text-anchor=\"middle\">" << tick_label(xv) << "</text>\n"
        << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + plot_w << "\" y1=\"" << fmt(py(yv))
        << "\" y2=\"" << fmt(py(yv)) << "\" stroke=\"#ddd\"/>\n"
        << "<text x=\"" << kLeft - 6 << "\" y=\"" << fmt(py(yv) + 4) << "\" text-anchor=\"end\">"
        << tick_label(yv) << "</text>\n";
  }
  svg << "<text x=\"" << kLeft + plot_w / 2 << "\" y=\"" << kHeight - 12
      << "\" text-anchor=\"middle\">" << escape_xml(x_label) << "</text>\n"
      << "<text transform=\"translate(16," << kTop + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << escape_xml(y_label)
      << (log_y ? " (log scale)" : "") << "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const PlotSeries& s = series[k];
    if (s.markers) {
      for (size_t i = 0; i < s.x.size(); ++i) {
        svg << "<circle cx=\"" << fmt(px(s.x[i])) << "\" cy=\"" << fmt(py(s.y[i]))
            << "\" r=\"3.5\" fill=\"" << s.color << "\"/>\n";
      }
    } else if (!s.x.empty()) {
      svg << "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"" << s.color << "\" points=\"";
      for (size_t i = 0; i < s.x.size(); ++i) {
        svg << fmt(px(s.x[i])) << "," << fmt(py(s.y[i])) << " ";
      }
      svg << "\"/>\n";
    }
    const double ly = kTop + 10 + 20.0 * static_cast<double>(k);
    svg << "<rect x=\"" << kWidth - kRight + 12 << "\" y=\"" << ly - 8
        << "\" width=\"14\" height=\"4\" fill=\"" << s.color << "\"/>\n"
        << "<text x=\"" << kWidth - kRight + 32 << "\" y=\"" << ly << "\">" << escape_xml(s.name)
        << "</text>\n";
  }
  svg << "</svg>\n";
  write_file(path, svg.str());
}

void write_loss_curve(const std::string& metrics_path, const std::string& svg_path) {
  PlotSeries loss{"train loss", "#1f77b4", {}, {}, false};
  PlotSeries kl{"held-out KL", "#d62728", {}, {}, true};
  std::istringstream in(read_file(metrics_path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto json = nlohmann::json::parse(line);
    const auto step = json.at("step").get<double>();
    if (json.contains("loss")) {
      loss.x.push_back(step);
      loss.y.push_back(json.at("loss").get<double>());
    }
    if (json.contains("held_out_kl")) {
      kl.x.push_back(step);
      kl.y.push_back(json.at("held_out_kl").get<double>());
    }
  }
  write_svg_plot(svg_path, "SwiftKV distillation", "step", "loss", {loss, kl});
}

}  // namespace swiftkv
