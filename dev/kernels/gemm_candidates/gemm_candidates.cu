// Times the first cuBLASLt heuristic candidates for decode-shaped bf16 GEMMs (out[m, n] =
// x[m, k] · w[n, k]ᵀ, f32 accumulation, bf16 out) on random data: is the heuristic's first
// choice the fastest at small m? Build: nvcc -O2 -arch=sm_90a gemm_candidates.cu -lcublasLt
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                                   \
  do {                                                                             \
    auto e = (x);                                                                  \
    if (static_cast<int>(e) != 0) {                                                \
      std::printf("error %d at %s:%d\n", static_cast<int>(e), __FILE__, __LINE__); \
      std::exit(1);                                                                \
    }                                                                              \
  } while (0)

__global__ void fill(__nv_bfloat16* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    unsigned h = (unsigned)i * 2654435761u ^ seed;
    h ^= h >> 13;
    h *= 0x5bd1e995;
    h ^= h >> 15;
    p[i] = __float2bfloat16(((h & 0xffff) / 65536.0f - 0.5f) * 0.1f);
  }
}

int main() {
  cublasLtHandle_t handle;
  CHECK(cublasLtCreate(&handle));
  const size_t workspace_bytes = 32u << 20;
  void* workspace;
  CHECK(cudaMalloc(&workspace, workspace_bytes));
  const int shapes[][2] = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}};
  const char* names[] = {"qkv", "o", "gate_up", "down"};
  const int ms[] = {1, 16, 64, 128, 256, 512};
  std::printf(
      "| m | proj | heuristic #0 us | best us (candidate) | candidates |\n|---|---|---|---|---|\n");
  for (int m : ms) {
    for (int s = 0; s < 4; ++s) {
      const int n = shapes[s][0], k = shapes[s][1];
      __nv_bfloat16 *w, *x, *out;
      CHECK(cudaMalloc(&w, (size_t)n * k * 2));
      CHECK(cudaMalloc(&x, (size_t)m * k * 2));
      CHECK(cudaMalloc(&out, (size_t)m * n * 2));
      fill<<<1024, 256>>>(w, (size_t)n * k, 1);
      fill<<<256, 256>>>(x, (size_t)m * k, 2);
      cublasLtMatmulDesc_t desc;
      CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
      cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
      CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)));
      CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof(nt)));
      cublasLtMatrixLayout_t wl, xl, ol;
      CHECK(cublasLtMatrixLayoutCreate(&wl, CUDA_R_16BF, k, n, k));
      CHECK(cublasLtMatrixLayoutCreate(&xl, CUDA_R_16BF, k, m, k));
      CHECK(cublasLtMatrixLayoutCreate(&ol, CUDA_R_16BF, n, m, n));
      cublasLtMatmulPreference_t pref;
      CHECK(cublasLtMatmulPreferenceCreate(&pref));
      uint64_t ws = workspace_bytes;
      CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &ws, sizeof(ws)));
      uint32_t red = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
      CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
                                                 &red, sizeof(red)));
      std::vector<cublasLtMatmulHeuristicResult_t> results(16);
      int count = 0;
      CHECK(cublasLtMatmulAlgoGetHeuristic(handle, desc, wl, xl, ol, ol, pref, 16, results.data(),
                                           &count));
      cudaEvent_t a, b;
      CHECK(cudaEventCreate(&a));
      CHECK(cudaEventCreate(&b));
      const float alpha = 1.0f, beta = 0.0f;
      float first = 0, best = 1e30f;
      int best_i = -1;
      for (int i = 0; i < count; ++i) {
        // Rotate through many weight-sized reads? One copy: weights may sit in L2 for small n*k;
        // the 4 shapes are 50-235 MB, larger than L2 except none.
        for (int r = 0; r < 3; ++r)
          CHECK(cublasLtMatmul(handle, desc, &alpha, w, wl, x, xl, &beta, out, ol, out, ol,
                               &results[i].algo, workspace, workspace_bytes, 0));
        CHECK(cudaEventRecord(a));
        const int iters = 20;
        for (int r = 0; r < iters; ++r)
          CHECK(cublasLtMatmul(handle, desc, &alpha, w, wl, x, xl, &beta, out, ol, out, ol,
                               &results[i].algo, workspace, workspace_bytes, 0));
        CHECK(cudaEventRecord(b));
        CHECK(cudaEventSynchronize(b));
        float ms_total;
        CHECK(cudaEventElapsedTime(&ms_total, a, b));
        const float us = ms_total * 1000 / iters;
        if (i == 0) first = us;
        if (us < best) {
          best = us;
          best_i = i;
        }
      }
      std::printf("| %d | %s | %.1f | %.1f (#%d) | %d |\n", m, names[s], first, best, best_i,
                  count);
      cudaFree(w);
      cudaFree(x);
      cudaFree(out);
      cublasLtMatmulPreferenceDestroy(pref);
      cublasLtMatrixLayoutDestroy(wl);
      cublasLtMatrixLayoutDestroy(xl);
      cublasLtMatrixLayoutDestroy(ol);
      cublasLtMatmulDescDestroy(desc);
    }
  }
  return 0;
}
