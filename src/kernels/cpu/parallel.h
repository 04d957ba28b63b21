// How finely the fast CPU kernels split work over the ThreadPool. Internal to src/kernels/cpu/.
#pragma once

#include <algorithm>
#include <cstdint>

namespace swiftkv::kernels::cpu {

// Waking the pool costs a few microseconds, so a chunk should hold at least this many
// elementary operations (multiply-adds, element copies) before another thread is worth it.
inline constexpr int64_t kMinWorkPerChunk = int64_t{1} << 15;

// min_chunk for ThreadPool::parallel_for when each item costs `work_per_item` operations.
inline int64_t min_items_per_chunk(int64_t work_per_item) {
  return std::max<int64_t>(1, kMinWorkPerChunk / std::max<int64_t>(1, work_per_item));
}

}  // namespace swiftkv::kernels::cpu
