// The device-agnostic op API used by the model. Each op checks shapes and dtypes (throwing
// InternalError via SWIFTKV_CHECK with the offending shapes), then dispatches on
// (backend, weight dtype) to one kernel in src/kernels/<device>/.
//
// Conventions: activations are f32 on CPU and bf16 on CUDA (device tensors), or f32 on CUDA with
// f32 weights and cache (the f32 model); CPU weights may be f32, bf16 or f16; index tensors are
// i32. All tensors are contiguous row-major. `out` may not alias inputs unless stated.
//
// One header per op (STYLE.md "one op, one place"); this header includes them all.
#pragma once

#include "core/tensor.h"
#include "ops/add_inplace.h"
#include "ops/context.h"
#include "ops/decode_linear.h"
#include "ops/device.h"
#include "ops/embedding.h"
#include "ops/fused_add_rms_norm.h"
#include "ops/gather_rows.h"
#include "ops/linear.h"
#include "ops/paged_attention.h"
#include "ops/rms_norm.h"
#include "ops/rope.h"
#include "ops/rope_write_kv_cache.h"
#include "ops/sample_tokens.h"
#include "ops/silu_mul.h"
#include "ops/swiglu.h"
#include "ops/write_kv_cache.h"
