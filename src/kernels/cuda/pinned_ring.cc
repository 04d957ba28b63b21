#include "kernels/cuda/pinned_ring.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"

namespace swiftkv::cuda {

PinnedRing::PinnedRing(int num_slots) : slots_(static_cast<size_t>(num_slots)) {
  SWIFTKV_CHECK(num_slots >= 1, "PinnedRing needs a slot, got ", num_slots);
  for (Slot& slot : slots_) {
    CUDA_CHECK(cudaEventCreateWithFlags(&slot.event, cudaEventDisableTiming));
  }
}

PinnedRing::~PinnedRing() {
  for (Slot& slot : slots_) {
    // No throw from a destructor: a failure here means the context is already gone.
    if (slot.recorded) {
      cudaEventSynchronize(slot.event);
    }
    cudaEventDestroy(slot.event);
    if (slot.data != nullptr) {
      cudaFreeHost(slot.data);
    }
  }
}

PinnedRing::Slot& PinnedRing::slot_of(int64_t ticket) {
  return slots_[static_cast<size_t>(ticket % static_cast<int64_t>(slots_.size()))];
}

const PinnedRing::Slot& PinnedRing::slot_of(int64_t ticket) const {
  return slots_[static_cast<size_t>(ticket % static_cast<int64_t>(slots_.size()))];
}

int64_t PinnedRing::acquire(size_t nbytes) {
  const int64_t ticket = next_ticket_++;
  Slot& slot = slot_of(ticket);
  if (slot.recorded) {
    CUDA_CHECK(cudaEventSynchronize(slot.event));
    slot.recorded = false;
  }
  if (slot.capacity < nbytes) {
    if (slot.data != nullptr) {
      CUDA_CHECK(cudaFreeHost(slot.data));
      slot.data = nullptr;
      slot.capacity = 0;
    }
    // Grow geometrically: metadata sizes creep up with the context lengths.
    const size_t capacity = std::max<size_t>(nbytes, 2 * slot.capacity);
    CUDA_CHECK(cudaHostAlloc(&slot.data, capacity, cudaHostAllocDefault));
    slot.capacity = capacity;
  }
  slot.ticket = ticket;
  return ticket;
}

void* PinnedRing::data(int64_t ticket) const {
  const Slot& slot = slot_of(ticket);
  SWIFTKV_CHECK(slot.ticket == ticket, "pinned staging ticket ", ticket, " was reused by ",
                slot.ticket);
  return slot.data;
}

void PinnedRing::record(int64_t ticket, cudaStream_t stream) {
  Slot& slot = slot_of(ticket);
  SWIFTKV_CHECK(slot.ticket == ticket, "pinned staging ticket ", ticket, " was reused by ",
                slot.ticket);
  CUDA_CHECK(cudaEventRecord(slot.event, stream));
  slot.recorded = true;
}

void PinnedRing::wait(int64_t ticket) {
  Slot& slot = slot_of(ticket);
  if (slot.ticket != ticket) {
    throw Error(str_cat("a pending download (ticket ", ticket, ") was overwritten by ticket ",
                        slot.ticket, ": too many downloads in flight"));
  }
  if (slot.recorded) {
    CUDA_CHECK(cudaEventSynchronize(slot.event));
    slot.recorded = false;
  }
}

}  // namespace swiftkv::cuda
