// Pinned host memory for the copies of a step loop that runs ahead of the device.
//
// cudaMemcpyAsync from pageable host memory may wait until the stream reaches the copy (the
// driver stages it through its own pinned buffer), which would make a host that queues step
// N + 1 while the device runs step N wait for step N. Copies staged through pinned memory
// return at once. Each slot carries an event recorded after the copy that uses it, and a slot
// is reused, round robin, only once that event has completed; so a host buffer is never
// rewritten while a queued copy still reads it. Not thread-safe (one per CudaContext).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace swiftkv::cuda {

class PinnedRing {
 public:
  explicit PinnedRing(int num_slots);
  ~PinnedRing();
  PinnedRing(const PinnedRing&) = delete;
  PinnedRing& operator=(const PinnedRing&) = delete;

  // The next slot, grown to at least nbytes, once the device is done with its last copy.
  // Returns a ticket: use data(ticket), then record(ticket, stream) after queueing the copy.
  int64_t acquire(size_t nbytes);
  void* data(int64_t ticket) const;
  void record(int64_t ticket, cudaStream_t stream);
  // Waits for the copy recorded under `ticket`; throws Error when the slot has been reused
  // since (the ticket is older than num_slots acquisitions).
  void wait(int64_t ticket);

 private:
  struct Slot {
    void* data = nullptr;
    size_t capacity = 0;
    cudaEvent_t event = nullptr;
    bool recorded = false;
    int64_t ticket = -1;
  };
  Slot& slot_of(int64_t ticket);
  const Slot& slot_of(int64_t ticket) const;

  std::vector<Slot> slots_;
  int64_t next_ticket_ = 0;
};

}  // namespace swiftkv::cuda
