// Measurement tool (not part of the engine): do some SMs stream HBM slower than others, and does
// giving them fewer bytes shorten a kernel that streams one weight matrix across all SMs?
// One block per SM (shared memory forces it); each block streams its span of a 256 MB buffer
// with 16-byte loads and records %smid and %globaltimer at start and end. Pass A: equal spans
// per block. Calibration: per-SM rate from A. Pass B: spans by SM (through %smid) proportional
// to that rate. A and B alternate; each prints the kernel's span (last end - first start).
// Build: nvcc -O3 -arch=sm_90a -o sm_balance_probe sm_balance_probe.cu
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

#define CHECK(x)                                                            \
  do {                                                                      \
    cudaError_t e = (x);                                                    \
    if (e != cudaSuccess) {                                                 \
      std::printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e)); \
      std::exit(1);                                                         \
    }                                                                       \
  } while (0)

constexpr int kThreads = 256;
constexpr int kMaxSms = 256;

struct Record {
  unsigned long long start, end;
  unsigned smid;
  unsigned pad;
};

__device__ unsigned smid() {
  unsigned id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}
__device__ unsigned long long now() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// offsets: [kMaxSms + 1] in 16-byte units; by_sm: index by %smid (pass B) or blockIdx (pass A).
__global__ void __launch_bounds__(kThreads, 1)
    stream(const uint4* data, const long long* offsets, int by_sm, Record* records, uint4* sink) {
  extern __shared__ unsigned char big[];  // one block per SM
  const unsigned id = smid();
  const unsigned long long t0 = now();
  const int slot = by_sm ? static_cast<int>(id) : static_cast<int>(blockIdx.x);
  const long long begin = offsets[slot];
  const long long end = offsets[slot + 1];
  uint4 acc = make_uint4(0, 0, 0, 0);
  for (long long i = begin + threadIdx.x; i < end; i += kThreads * 8) {
    uint4 v[8];
#pragma unroll
    for (int u = 0; u < 8; ++u) {
      const long long j = i + u * kThreads;
      v[u] = j < end ? __ldcs(data + j) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < 8; ++u) {
      acc.x ^= v[u].x;
      acc.y ^= v[u].y;
      acc.z ^= v[u].z;
      acc.w ^= v[u].w;
    }
  }
  if (acc.x == 0x12345678U) sink[threadIdx.x] = acc;  // keeps the loads
  __syncthreads();
  if (threadIdx.x == 0) {
    big[0] = 0;
    records[blockIdx.x] = {t0, now(), id, 0};
  }
}

int main() {
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const long long bytes = 256LL << 20;
  const long long units = bytes / 16;
  uint4* data;
  uint4* sink;
  long long* offsets;
  Record* records;
  CHECK(cudaMalloc(&data, bytes));
  CHECK(cudaMemset(data, 1, bytes));
  CHECK(cudaMalloc(&sink, kThreads * 16));
  CHECK(cudaMalloc(&offsets, (kMaxSms + 1) * 8));
  CHECK(cudaMalloc(&records, kMaxSms * sizeof(Record)));
  const int shared = 150 * 1024;
  CHECK(cudaFuncSetAttribute(stream, cudaFuncAttributeMaxDynamicSharedMemorySize, shared));

  const auto run = [&](const std::vector<long long>& off, int by_sm, std::vector<Record>& rec) {
    CHECK(cudaMemcpy(offsets, off.data(), off.size() * 8, cudaMemcpyHostToDevice));
    stream<<<sms, kThreads, shared>>>(data, offsets, by_sm, records, sink);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    rec.resize(sms);
    CHECK(cudaMemcpy(rec.data(), records, sms * sizeof(Record), cudaMemcpyDeviceToHost));
    unsigned long long first = ~0ULL, last = 0;
    for (const Record& r : rec) {
      first = std::min(first, r.start);
      last = std::max(last, r.end);
    }
    return (last - first) / 1000.0;  // µs
  };
  std::vector<long long> equal(kMaxSms + 1, units);
  for (int b = 0; b <= sms; ++b) equal[b] = units * b / sms / 16 * 16;
  equal[sms] = units;
  // Calibration: per-SM time over 20 equal passes.
  std::vector<double> time_by_sm(kMaxSms, 0.0);
  std::vector<int> seen(kMaxSms, 0);
  std::vector<Record> rec;
  for (int i = 0; i < 3; ++i) run(equal, 0, rec);  // warm-up
  for (int i = 0; i < 20; ++i) {
    run(equal, 0, rec);
    for (const Record& r : rec) {
      time_by_sm[r.smid] += (r.end - r.start) / 1000.0;
      ++seen[r.smid];
    }
  }
  int distinct = 0;
  unsigned max_id = 0;
  for (int s = 0; s < kMaxSms; ++s) {
    if (seen[s]) {
      ++distinct;
      max_id = std::max<unsigned>(max_id, s);
    }
  }
  std::printf("SMs %d, distinct smids %d, max smid %u\n", sms, distinct, max_id);
  if (distinct != sms || static_cast<int>(max_id) != sms - 1) {
    std::printf("smids are not 0..SMs-1: no by-SM pass\n");
    return 0;
  }
  std::vector<double> rate(sms);
  for (int s = 0; s < sms; ++s) rate[s] = seen[s] / time_by_sm[s];  // per µs, equal bytes
  std::vector<double> sorted_t(sms);
  for (int s = 0; s < sms; ++s) sorted_t[s] = time_by_sm[s] / seen[s];
  std::vector<int> order(sms);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return sorted_t[a] < sorted_t[b]; });
  std::printf("per-SM mean time (µs), fastest 5:");
  for (int i = 0; i < 5; ++i) std::printf(" sm%d %.2f", order[i], sorted_t[order[i]]);
  std::printf("\nslowest 8:");
  for (int i = sms - 8; i < sms; ++i) std::printf(" sm%d %.2f", order[i], sorted_t[order[i]]);
  std::printf("\nall (smid:time):");
  for (int s = 0; s < sms; ++s) std::printf(" %d:%.1f", s, sorted_t[s]);
  std::printf("\n");
  const double total_rate = std::accumulate(rate.begin(), rate.end(), 0.0);
  std::vector<long long> by_sm(kMaxSms + 1, units);
  double cum = 0;
  for (int s = 0; s < sms; ++s) {
    by_sm[s] = static_cast<long long>(units * cum / total_rate) / 16 * 16;
    cum += rate[s];
  }
  by_sm[sms] = units;
  for (int round = 0; round < 5; ++round) {
    double a = 0, b = 0;
    for (int i = 0; i < 10; ++i) {
      a += run(equal, 0, rec);
      b += run(by_sm, 1, rec);
    }
    std::printf("round %d: equal spans %.2f µs, by-SM spans %.2f µs (%.1f GB/s vs %.1f GB/s)\n",
                round, a / 10, b / 10, bytes / (a / 10) / 1e3, bytes / (b / 10) / 1e3);
  }
  return 0;
}
