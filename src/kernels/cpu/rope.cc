// Rotary position embedding, Hugging Face "rotate half" layout (apply_rotary_pos_emb in
// transformers' modeling_llama.py): for i < head_dim/2, with a = x[i], b = x[i + head_dim/2] and
// angle = f32(position) * inv_freq[i] (an f32 product, as transformers computes freqs in f32):
//   x[i] = a cos(angle) - b sin(angle),  x[i + head_dim/2] = b cos(angle) + a sin(angle).
#include "kernels/cpu/rope.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

// x: [num_heads, head_dim] of one token; cosines, sines: [head_dim / 2].
SWIFTKV_CPU_CLONES void rotate_heads(float* x, const float* cosines, const float* sines,
                                     int64_t num_heads, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < num_heads; ++h) {
    float* lo = x + h * head_dim;
    float* hi = lo + half;
    for (int64_t i = 0; i < half; ++i) {
      const float a = lo[i];
      const float b = hi[i];
      lo[i] = a * cosines[i] - b * sines[i];
      hi[i] = b * cosines[i] + a * sines[i];
    }
  }
}

}  // namespace

void rope(ThreadPool& pool, const Tensor& x, const Tensor& positions, const Tensor& inv_freq) {
  const int64_t num_heads = x.dim(1);
  const int64_t head_dim = x.dim(2);
  const int64_t half = head_dim / 2;
  pool.parallel_for(
      x.dim(0),
      [&](int64_t begin, int64_t end) {
        std::vector<float> cosines(static_cast<size_t>(half));
        std::vector<float> sines(static_cast<size_t>(half));
        for (int64_t t = begin; t < end; ++t) {
          const auto position = static_cast<float>(positions.data<int32_t>()[t]);
          for (int64_t i = 0; i < half; ++i) {
            const float angle = position * inv_freq.data<float>()[i];
            cosines[static_cast<size_t>(i)] = std::cos(angle);
            sines[static_cast<size_t>(i)] = std::sin(angle);
          }
          rotate_heads(x.data<float>() + t * num_heads * head_dim, cosines.data(), sines.data(),
                       num_heads, head_dim);
        }
      },
      min_items_per_chunk(num_heads * head_dim * 4));
}

namespace ref {

void rope(const Tensor& x, const Tensor& positions, const Tensor& inv_freq) {
  const int64_t num_tokens = x.dim(0);
  const int64_t num_heads = x.dim(1);
  const int64_t head_dim = x.dim(2);
  const int64_t half = head_dim / 2;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const auto position = static_cast<float>(positions.data<int32_t>()[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = position * inv_freq.data<float>()[i];  // f32 product, as specified
      const double cos_angle = std::cos(angle);  // f32 cos/sin (the float overloads)
      const double sin_angle = std::sin(angle);
      for (int64_t h = 0; h < num_heads; ++h) {
        float* head = x.data<float>() + (t * num_heads + h) * head_dim;
        const double a = head[i];
        const double b = head[i + half];
        head[i] = static_cast<float>(a * cos_angle - b * sin_angle);
        head[i + half] = static_cast<float>(b * cos_angle + a * sin_angle);
      }
    }
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
