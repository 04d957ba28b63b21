// RoPE's per-element math (internal to this folder), shared by the RoPE kernel and decode
// attention's fused RoPE so both give the same bits: the angle is one f32 product (as the CPU
// reference forms it), its cos and sin come from f64 math, and each rotated value is two rounded
// products and one rounded sum (no fused multiply-add, which the compiler might otherwise
// contract differently in the two kernels).
#pragma once

namespace swiftkv::cuda {

struct RopeAngle {
  float cos;
  float sin;
};

// cos and sin of the f32 angle (position x inv_freq) to about half an f32 ulp, without cosf/sinf:
// their large-argument path gives a kernel a 32-byte stack frame (a cost on every launch of the
// RoPE kernel, dev/kernels/NOTES.md, session 9). The angle is reduced by multiples of pi/2 in f64
// (pi/2 in two parts: exact for every angle a position below 2^24 gives), and the reduced angle,
// within pi/4, goes through f64 Taylor polynomials (error below 1e-13).
__device__ __forceinline__ RopeAngle rope_angle(float position, float inv_freq) {
  constexpr double kTwoOverPi = 0.63661977236758134308;
  constexpr double kPiOver2Hi = 1.5707963267948966192;   // the f64 nearest pi/2
  constexpr double kPiOver2Lo = 6.1232339957367658e-17;  // pi/2 - kPiOver2Hi
  const double x = position * inv_freq;                  // the f32 product, as the CPU forms it
  const double quadrants = rint(x * kTwoOverPi);
  const double r = fma(-quadrants, kPiOver2Lo, fma(-quadrants, kPiOver2Hi, x));
  const double r2 = r * r;
  const double sin_r =
      r * (1.0 +
           r2 * (-1.0 / 6 +
                 r2 * (1.0 / 120 + r2 * (-1.0 / 5040 +
                                         r2 * (1.0 / 362880 + r2 * (-1.0 / 39916800 +
                                                                    r2 * (1.0 / 6227020800.0)))))));
  const double cos_r =
      1.0 + r2 * (-1.0 / 2 +
                  r2 * (1.0 / 24 +
                        r2 * (-1.0 / 720 + r2 * (1.0 / 40320 + r2 * (-1.0 / 3628800 +
                                                                     r2 * (1.0 / 479001600.0))))));
  const auto c = static_cast<float>(cos_r);
  const auto s = static_cast<float>(sin_r);
  switch (static_cast<long long>(quadrants) & 3) {
    case 0:
      return {c, s};
    case 1:
      return {-s, c};
    case 2:
      return {-c, -s};
    default:
      return {s, -c};
  }
}

// Element i of a head from (x_i, x_{i + head_dim / 2}) = (low, high).
__device__ __forceinline__ float rope_low(float low, float high, RopeAngle r) {
  return __fsub_rn(__fmul_rn(low, r.cos), __fmul_rn(high, r.sin));
}

// Element i + head_dim / 2 of a head.
__device__ __forceinline__ float rope_high(float low, float high, RopeAngle r) {
  return __fadd_rn(__fmul_rn(high, r.cos), __fmul_rn(low, r.sin));
}

}  // namespace swiftkv::cuda
