// `--kv-cache-dtype` on the commands that build a CUDA model (`serve`, `bench throughput`,
// `bench gpu`): fp8 (and bf16) need the bf16 CUDA model, so --device cpu and the f32 CUDA model
// refuse them with a message naming the flag and exit status 1, before anything is loaded (the
// model paths here do not exist; no GPU is needed).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "run_swiftkv.h"

namespace swiftkv {
namespace {

using cli_test::run;
using cli_test::RunResult;

void expect_refused(const std::string& args, const std::string& reason) {
  SCOPED_TRACE(args);
  const RunResult r = run(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: --kv-cache-dtype"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(reason), std::string::npos) << r.output;
}

TEST(KvCacheDtype, CpuDeviceRefusesFp8) {
  expect_refused("serve --model /nonexistent/model --device cpu --kv-cache-dtype fp8 --port 0",
                 "needs --device cuda");
  expect_refused("bench throughput --model /nonexistent/model --kv-cache-dtype fp8",
                 "needs --device cuda");
  expect_refused("bench throughput --model /nonexistent/model --device cpu --kv-cache-dtype bf16",
                 "needs --device cuda");
}

TEST(KvCacheDtype, F32CudaModelRefusesFp8) {
  expect_refused("bench gpu --dtype f32 --kv-cache-dtype fp8", "needs the bf16 CUDA model");
}

TEST(KvCacheDtype, UnknownValueIsAUsageError) {
  const RunResult r = run("bench gpu --kv-cache-dtype fp16");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--kv-cache-dtype"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace swiftkv
