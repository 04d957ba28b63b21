// RoPE inverse frequencies (contract in rope_frequencies.h). Every intermediate is rounded to
// float exactly where transformers' float32 tensor op would round it; the Python line each
// step mirrors is quoted beside it.
#include "model/rope_frequencies.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace swiftkv {
namespace {

// Rounds a double to float: the result of one float32 torch op evaluated exactly.
float f32(double x) { return static_cast<float>(x); }

// inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
std::vector<float> default_inv_freq(int64_t head_dim, double theta) {
  const float base = f32(theta);  // the Python scalar is cast to the tensor's float32
  const float dim = f32(static_cast<double>(head_dim));
  std::vector<float> inv_freq(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const float exponent = f32(static_cast<double>(2 * i) / dim);
    const float power = f32(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
    inv_freq[i] = f32(1.0 / power);  // `1.0 / t` is t.reciprocal() * 1.0
  }
  return inv_freq;
}

// _compute_llama3_parameters: wavelengths above the original context are divided by `factor`,
// those below original / high_freq_factor are kept, the band between is interpolated.
void apply_llama3_scaling(const RopeScaling& s, std::vector<float>& inv_freq) {
  const float factor = f32(s.factor);
  const float low_freq_factor = f32(s.low_freq_factor);
  const auto old_context_len = static_cast<double>(s.original_max_position_embeddings);
  const float old_context_len_f = f32(old_context_len);
  // low_freq_wavelen = old_context_len / low_freq_factor (Python double; compared as float32)
  const float low_freq_wavelen = f32(old_context_len / s.low_freq_factor);
  const float high_freq_wavelen = f32(old_context_len / s.high_freq_factor);
  const float freq_factor_span = f32(s.high_freq_factor - s.low_freq_factor);
  const float two_pi = f32(2.0 * std::numbers::pi);
  for (float& inv : inv_freq) {
    // wavelen = 2 * math.pi / inv_freq  ->  inv_freq.reciprocal() * (2 * pi)
    const float wavelen = f32(static_cast<double>(f32(1.0 / inv)) * two_pi);
    // inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    const float llama = wavelen > low_freq_wavelen ? f32(static_cast<double>(inv) / factor) : inv;
    // smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high - low)
    const float ratio = f32(static_cast<double>(f32(1.0 / wavelen)) * old_context_len_f);
    const float smooth = f32(
        static_cast<double>(f32(static_cast<double>(ratio) - low_freq_factor)) / freq_factor_span);
    // smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    const float scaled = f32(static_cast<double>(f32(1.0 - smooth)) * llama);
    const float smoothed = f32(static_cast<double>(f32(static_cast<double>(scaled) / factor)) +
                               static_cast<double>(f32(static_cast<double>(smooth) * llama)));
    // is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    const bool is_medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    inv = is_medium ? smoothed : llama;
  }
}

}  // namespace

RopeFrequencies rope_frequencies(const ModelConfig& config) {
  SWIFTKV_CHECK(config.head_dim > 0 && config.head_dim % 2 == 0, "head_dim=", config.head_dim);
  RopeFrequencies out;
  out.inv_freq = default_inv_freq(config.head_dim, config.rope_theta);
  switch (config.rope_scaling.type) {
    case RopeType::kDefault:
      break;
    case RopeType::kLinear: {
      // inv_freq /= factor
      const float factor = f32(config.rope_scaling.factor);
      for (float& inv : out.inv_freq) {
        inv = f32(static_cast<double>(inv) / factor);
      }
      break;
    }
    case RopeType::kLlama3:
      apply_llama3_scaling(config.rope_scaling, out.inv_freq);
      break;
  }
  out.attention_scaling = 1.0F;  // all three types leave cos/sin unscaled
  return out;
}

std::vector<float> rope_inv_freq(const ModelConfig& config) {
  return rope_frequencies(config).inv_freq;
}

}  // namespace swiftkv
