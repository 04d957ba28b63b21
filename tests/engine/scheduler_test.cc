// Scheduler + BlockManager with a fake runner (no model): continuous batching, chunked
// prefill, decodes first, preemption by recompute, prefix caching, finish reasons, failures.
//
// The fake runner models a KV cache: writing a token stores, at its slot, a hash of the token
// prefix it closes (what real KV depends on); every step checks that all earlier positions of
// each scheduled sequence hold exactly their prefix's value, so a wrong block table, a bad
// prefix-cache hit or a lost block after preemption fails the test. The next token is a function
// of the prefix, so outputs must not depend on batching, chunking or preemption.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace swiftkv {
namespace {

constexpr int32_t kVocab = 100;
constexpr int32_t kEos = 2;

uint64_t prefix_value(const std::vector<int32_t>& tokens, int64_t end) {
  uint64_t h = 1469598103934665603ULL;
  for (int64_t i = 0; i < end; ++i) {
    h = (h ^ static_cast<uint64_t>(tokens[static_cast<size_t>(i)])) * 1099511628211ULL;
  }
  return h;
}

// Default next token: a function of the whole sequence so far, never EOS.
int32_t next_token(const std::vector<int32_t>& tokens, int64_t /*num_prompt_tokens*/) {
  return static_cast<int32_t>(3 + prefix_value(tokens, static_cast<int64_t>(tokens.size())) %
                                      (kVocab - 3));
}

class FakeRunner {
 public:
  FakeRunner(int64_t num_blocks, int64_t block_size)
      : block_size_(block_size), slots_(static_cast<size_t>(num_blocks * block_size), 0) {}

  // The next token from a sequence's tokens (pending ones resolved) and its prompt length.
  std::function<int32_t(const std::vector<int32_t>&, int64_t)> policy = next_token;
  std::string step_error;                // when set, the next step fails as a whole
  std::string fail_sampling_of;          // a sequence id whose sampling fails
  std::vector<SchedulerOutput> history;  // copies of every scheduled step

  // Like the GPU runner, it knows the tokens it sampled before the scheduler does: a pending
  // token (pipelined steps) reads as the last token sampled for its sequence.
  RunnerOutput execute(const SchedulerOutput& out) {
    history.push_back(out);
    RunnerOutput result;
    if (!step_error.empty()) {
      result.error = step_error;
      step_error.clear();
      return result;
    }
    result.sampled.resize(out.scheduled.size());
    std::map<const Sequence*, int32_t> sampled;
    for (size_t i = 0; i < out.scheduled.size(); ++i) {
      const ScheduledSequence& s = out.scheduled[i];
      const Sequence& seq = *s.seq;
      std::vector<int32_t> tokens = seq.token_ids;
      EXPECT_LE(seq.num_pending_tokens, 1) << seq.id;
      if (seq.num_pending_tokens == 1) {
        tokens.back() = last_sampled_.at(&seq);
      }
      for (int64_t pos = 0; pos < seq.num_computed_tokens; ++pos) {
        EXPECT_EQ(slots_[slot(seq, pos)], prefix_value(tokens, pos + 1))
            << seq.id << " position " << pos;
      }
      for (int64_t pos = seq.num_computed_tokens; pos < seq.num_computed_tokens + s.num_new_tokens;
           ++pos) {
        slots_[slot(seq, pos)] = prefix_value(tokens, pos + 1);
      }
      if (s.sample) {
        EXPECT_EQ(seq.num_computed_tokens + s.num_new_tokens, seq.num_tokens());
        if (seq.id == fail_sampling_of) {
          result.sampled[i].error = "sampling exploded";
        } else {
          result.sampled[i].token = policy(tokens, seq.num_prompt_tokens);
          sampled[&seq] = result.sampled[i].token;
        }
      }
    }
    last_sampled_ = std::move(sampled);
    return result;
  }

 private:
  size_t slot(const Sequence& seq, int64_t pos) const {
    EXPECT_LT(pos / block_size_, static_cast<int64_t>(seq.block_table.blocks.size()));
    return static_cast<size_t>(seq.block_table.blocks[static_cast<size_t>(pos / block_size_)] *
                                   block_size_ +
                               pos % block_size_);
  }

  int64_t block_size_;
  std::vector<uint64_t> slots_;
  std::map<const Sequence*, int32_t> last_sampled_;  // by the last step
};

struct Options {
  int64_t num_blocks = 256;
  int64_t block_size = 4;
  int64_t max_num_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t max_model_len = 200;
  bool prefix_caching = true;
  // EngineCore's pipelined steps: step N + 1 is scheduled and run before step N's update.
  bool pipelined = false;
};

struct Result {
  std::vector<int32_t> output;
  FinishStatus status = FinishStatus::kRunning;
  std::string error;
};

// One scheduler, block manager and fake runner, and the sequences it owns.
class Harness {
 public:
  explicit Harness(const Options& o)
      : options_(o),
        blocks_(o.num_blocks, o.block_size, o.prefix_caching, /*watermark=*/0.01),
        scheduler_(SchedulerConfig{.max_num_batched_tokens = o.max_num_batched_tokens,
                                   .max_num_seqs = o.max_num_seqs,
                                   .max_model_len = o.max_model_len,
                                   .eos_ids = {kEos}},
                   blocks_),
        runner_(o.num_blocks, o.block_size) {}

  Sequence* add(const std::string& id, std::vector<int32_t> prompt, SamplingParams params = {}) {
    seqs_.push_back(
        std::make_unique<Sequence>(id, std::move(prompt), params, std::vector<int32_t>{kEos}, -1));
    scheduler_.add(seqs_.back().get());
    return seqs_.back().get();
  }

  // Runs one step; returns false when there was nothing to do.
  bool step() {
    SchedulerOutput out = scheduler_.schedule();
    if (out.scheduled.empty() && in_flight_.has_value()) {
      complete_in_flight();  // nothing new to queue: the step in flight's tokens first
      if (out.rejected.empty()) {
        return true;
      }
    }
    if (out.empty()) {
      return false;
    }
    EXPECT_LE(out.num_batched_tokens, options_.max_num_batched_tokens);
    EXPECT_LE(static_cast<int64_t>(out.scheduled.size()), options_.max_num_seqs);
    RunnerOutput result = runner_.execute(out);
    scheduler_.launched(out);
    if (!options_.pipelined) {
      record(scheduler_.update(out, result));
      return true;
    }
    complete_in_flight();
    in_flight_ = std::make_pair(std::move(out), std::move(result));
    return true;
  }

  void run() {
    for (int i = 0; i < 100000 && (scheduler_.has_unfinished() || in_flight_.has_value()); ++i) {
      ASSERT_TRUE(step()) << "stuck with unfinished sequences";
    }
    ASSERT_FALSE(scheduler_.has_unfinished());
  }

  Scheduler& scheduler() { return scheduler_; }
  BlockManager& blocks() { return blocks_; }
  FakeRunner& runner() { return runner_; }
  std::map<std::string, Result>& results() { return results_; }

 private:
  void complete_in_flight() {
    if (in_flight_.has_value()) {
      const auto [out, result] = std::move(*in_flight_);
      in_flight_.reset();
      record(scheduler_.update(out, result));
    }
  }

  void record(const std::vector<SequenceUpdate>& updates) {
    for (const SequenceUpdate& u : updates) {
      Result& r = results_[u.seq->id];
      if (u.new_token) {
        r.output.push_back(*u.new_token);
      }
      r.status = u.status;
      r.error = u.error;
    }
  }

  Options options_;
  BlockManager blocks_;
  Scheduler scheduler_;
  FakeRunner runner_;
  std::optional<std::pair<SchedulerOutput, RunnerOutput>> in_flight_;  // pipelined
  std::vector<std::unique_ptr<Sequence>> seqs_;
  std::map<std::string, Result> results_;
};

// (Not "r" + std::to_string(i): GCC 12 reports a false -Wrestrict on it.)
std::string request_name(int i) {
  std::string name = "r";
  name += std::to_string(i);
  return name;
}

struct Workload {
  std::string id;
  std::vector<int32_t> prompt;
  int32_t max_tokens;
};

std::vector<Workload> random_workload(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Workload> work;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> prompt(1 + rng() % 60);
    for (int32_t& t : prompt) {
      t = static_cast<int32_t>(3 + rng() % 5);  // small alphabet: some shared prefixes
    }
    if (i % 3 == 0) {
      prompt.assign(24, 7);  // identical prompts: prefix-cache hits
    }
    work.push_back({request_name(i), prompt, static_cast<int32_t>(1 + rng() % 25)});
  }
  return work;
}

std::map<std::string, Result> run_workload(const std::vector<Workload>& work, const Options& o,
                                           int64_t* num_preemptions = nullptr) {
  Harness h(o);
  for (const Workload& w : work) {
    SamplingParams params;
    params.max_tokens = w.max_tokens;
    h.add(w.id, w.prompt, params);
  }
  h.run();
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
  if (num_preemptions != nullptr) {
    *num_preemptions = h.scheduler().stats().num_preemptions;
  }
  return h.results();
}

TEST(Scheduler, OutputsDoNotDependOnBatchingChunkingOrPreemption) {
  const std::vector<Workload> work = random_workload(14, 3);
  // Reference: each request alone in a large cache.
  std::map<std::string, Result> expected;
  for (const Workload& w : work) {
    const auto alone = run_workload({w}, Options{.prefix_caching = false});
    expected[w.id] = alone.at(w.id);
    EXPECT_EQ(expected[w.id].status, FinishStatus::kLength);
    EXPECT_EQ(static_cast<int32_t>(expected[w.id].output.size()), w.max_tokens);
  }
  const std::vector<Options> configs = {
      Options{},
      Options{.max_num_batched_tokens = 7},
      Options{.max_num_batched_tokens = 32, .max_num_seqs = 3},
      Options{.block_size = 16, .max_num_batched_tokens = 50},
      Options{.num_blocks = 22, .max_num_batched_tokens = 64, .max_model_len = 88},
      Options{.num_blocks = 23,
              .max_num_batched_tokens = 9,
              .max_model_len = 88,
              .prefix_caching = false},
      Options{.pipelined = true},
      Options{.max_num_batched_tokens = 32, .max_num_seqs = 3, .pipelined = true},
      Options{
          .num_blocks = 22, .max_num_batched_tokens = 64, .max_model_len = 88, .pipelined = true},
      Options{.num_blocks = 23,
              .max_num_batched_tokens = 9,
              .max_model_len = 88,
              .prefix_caching = false,
              .pipelined = true},
  };
  for (size_t c = 0; c < configs.size(); ++c) {
    int64_t preemptions = 0;
    const auto got = run_workload(work, configs[c], &preemptions);
    for (const Workload& w : work) {
      EXPECT_EQ(got.at(w.id).output, expected[w.id].output) << "config " << c << " " << w.id;
      EXPECT_EQ(got.at(w.id).status, FinishStatus::kLength) << "config " << c << " " << w.id;
    }
    if (configs[c].num_blocks < 32) {
      EXPECT_GT(preemptions, 0) << "config " << c << " should run out of blocks";
    }
  }
}

TEST(Scheduler, ChunkedPrefillRequestsLogitsOnlyForTheLastChunk) {
  Harness h(Options{.max_num_batched_tokens = 16});
  SamplingParams params;
  params.max_tokens = 2;
  h.add("long", std::vector<int32_t>(50, 5), params);
  h.run();
  const auto& history = h.runner().history;
  ASSERT_EQ(history.size(), 5U);  // 16 + 16 + 16 + 2 (samples), then one decode
  const std::vector<int64_t> chunks = {16, 16, 16, 2, 1};
  for (size_t i = 0; i < history.size(); ++i) {
    ASSERT_EQ(history[i].scheduled.size(), 1U);
    EXPECT_EQ(history[i].scheduled[0].num_new_tokens, chunks[i]);
    EXPECT_EQ(history[i].scheduled[0].sample, i >= 3);
  }
}

TEST(Scheduler, DecodesGoFirstThenPrefillChunksWithinTheBudget) {
  Harness h(Options{.max_num_batched_tokens = 10});
  SamplingParams params;
  params.max_tokens = 20;
  h.add("a", {5, 6, 7}, params);
  ASSERT_TRUE(h.step());  // a's prompt
  h.add("b", std::vector<int32_t>(30, 4), params);
  ASSERT_TRUE(h.step());
  const SchedulerOutput& out = h.runner().history.back();
  ASSERT_EQ(out.scheduled.size(), 2U);
  EXPECT_EQ(out.scheduled[0].seq->id, "a");
  EXPECT_EQ(out.scheduled[0].num_new_tokens, 1);
  EXPECT_EQ(out.scheduled[1].seq->id, "b");
  EXPECT_EQ(out.scheduled[1].num_new_tokens, 9);
  EXPECT_FALSE(out.scheduled[1].sample);
  EXPECT_EQ(out.num_batched_tokens, 10);
}

TEST(Scheduler, MaxNumSeqsLimitsRunningSequences) {
  Harness h(Options{.max_num_seqs = 2});
  for (int i = 0; i < 5; ++i) {
    h.add(request_name(i), {3, 4, 5});
  }
  ASSERT_TRUE(h.step());
  EXPECT_EQ(h.scheduler().stats().num_running, 2);
  EXPECT_EQ(h.scheduler().stats().num_waiting, 3);
  h.run();
  EXPECT_EQ(h.results().size(), 5U);
}

TEST(Scheduler, PrefixCacheHitSkipsCachedBlocksButComputesTheLastToken) {
  Harness h(Options{.block_size = 4});
  SamplingParams params;
  params.max_tokens = 3;
  const std::vector<int32_t> prompt = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // 2 full blocks + 2
  Sequence* first = h.add("first", prompt, params);
  h.run();
  EXPECT_EQ(first->num_cached_prompt_tokens, 0);
  Sequence* second = h.add("second", prompt, params);
  ASSERT_TRUE(h.step());
  EXPECT_EQ(second->num_cached_prompt_tokens, 8);
  EXPECT_EQ(h.runner().history.back().scheduled[0].num_new_tokens, 2);
  h.run();
  EXPECT_EQ(h.results()["second"].output, h.results()["first"].output);

  // A prompt that is entirely cached (3 full blocks; the first 2 are the cached ones above
  // plus its own third): the last block is recomputed so its last token gets logits.
  const std::vector<int32_t> exact = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  h.add("exact1", exact, params);
  h.run();
  Sequence* again = h.add("exact2", exact, params);
  ASSERT_TRUE(h.step());
  EXPECT_EQ(again->num_cached_prompt_tokens, 8);
  EXPECT_EQ(h.runner().history.back().scheduled[0].num_new_tokens, 4);
  EXPECT_TRUE(h.runner().history.back().scheduled[0].sample);
  h.run();
  EXPECT_EQ(h.results()["exact2"].output, h.results()["exact1"].output);
  EXPECT_GT(h.blocks().stats().prefix_cache_hits, 0);
}

class SchedulerModes : public testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(StepByStepAndPipelined, SchedulerModes, testing::Bool());

// Pipelined, EOS is seen one step late (the sequence already decodes its pending EOS), while a
// pending token that ends a sequence by length is never scheduled.
TEST_P(SchedulerModes, FinishReasons) {
  Harness h(Options{.max_model_len = 12, .pipelined = GetParam()});
  // EOS at the 3rd token, unless ignore_eos.
  h.runner().policy = [](const std::vector<int32_t>& tokens, int64_t num_prompt) {
    return static_cast<int64_t>(tokens.size()) - num_prompt == 2 ? kEos
                                                                 : next_token(tokens, num_prompt);
  };
  SamplingParams plain;
  plain.max_tokens = 8;
  SamplingParams ignore = plain;
  ignore.ignore_eos = true;
  SamplingParams stop_id = plain;
  stop_id.ignore_eos = true;
  stop_id.stop_token_ids = {kEos};
  SamplingParams long_run = plain;
  long_run.max_tokens = 100;
  long_run.ignore_eos = true;
  h.add("eos", {5, 5}, plain);
  h.add("ignore", {5, 5}, ignore);
  h.add("stop_id", {5, 5}, stop_id);
  h.add("context", {5, 5, 5, 5, 5, 5}, long_run);
  h.run();
  auto& r = h.results();
  EXPECT_EQ(r["eos"].status, FinishStatus::kStop);
  EXPECT_EQ(r["eos"].output.size(), 3U);
  EXPECT_EQ(r["eos"].output.back(), kEos);
  EXPECT_EQ(r["ignore"].status, FinishStatus::kLength);
  EXPECT_EQ(r["ignore"].output.size(), 8U);
  EXPECT_EQ(r["stop_id"].status, FinishStatus::kStop);
  EXPECT_EQ(r["stop_id"].output.size(), 3U);
  EXPECT_EQ(r["context"].status, FinishStatus::kLength);
  EXPECT_EQ(r["context"].output.size(), 6U);  // 6 prompt + 6 output = max_model_len 12
  const auto samples_of = [&](const std::string& id) {
    int64_t n = 0;
    for (const SchedulerOutput& out : h.runner().history) {
      n += std::count_if(out.scheduled.begin(), out.scheduled.end(),
                         [&](const ScheduledSequence& s) { return s.sample && s.seq->id == id; });
    }
    return n;
  };
  EXPECT_EQ(samples_of("ignore"), 8);
  EXPECT_EQ(samples_of("context"), 6);
  EXPECT_EQ(samples_of("eos"), GetParam() ? 4 : 3);  // pipelined: one token past the EOS
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
}

TEST(Scheduler, FailedStepFailsOnlyItsSequences) {
  Harness h(Options{.max_num_seqs = 2});
  SamplingParams params;
  params.max_tokens = 4;
  h.add("a", {3, 4}, params);
  h.add("b", {3, 5}, params);
  h.add("c", {3, 6}, params);  // waiting: not in the failed step
  h.runner().step_error = "device on fire";
  ASSERT_TRUE(h.step());
  EXPECT_EQ(h.results()["a"].status, FinishStatus::kError);
  EXPECT_EQ(h.results()["a"].error, "device on fire");
  EXPECT_EQ(h.results()["b"].status, FinishStatus::kError);
  EXPECT_EQ(h.results().count("c"), 0U);
  h.runner().fail_sampling_of = "d";
  h.add("d", {3, 7}, params);
  h.run();
  EXPECT_EQ(h.results()["c"].status, FinishStatus::kLength);
  EXPECT_EQ(h.results()["d"].status, FinishStatus::kError);
  EXPECT_EQ(h.results()["d"].error, "sampling exploded");
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
}

TEST(Scheduler, RejectsSequencesThatCanNeverFit) {
  Harness h(Options{.num_blocks = 4, .block_size = 4, .max_model_len = 100});
  SamplingParams params;
  params.max_tokens = 50;
  params.ignore_eos = true;
  h.add("too_long_prompt", std::vector<int32_t>(17, 5), params);
  h.add("grows_too_long", std::vector<int32_t>(10, 6), params);
  h.run();
  EXPECT_EQ(h.results()["too_long_prompt"].status, FinishStatus::kError);
  EXPECT_EQ(h.results()["grows_too_long"].status, FinishStatus::kError);
  EXPECT_EQ(h.results()["grows_too_long"].output.size(), 7U);  // 16 slots, the 17th fails
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
}

TEST(Scheduler, FinishFreesRunningAndWaitingSequences) {
  Harness h(Options{.max_num_seqs = 1});
  SamplingParams params;
  params.max_tokens = 50;
  Sequence* running = h.add("running", {3, 4, 5, 6, 7}, params);
  Sequence* waiting = h.add("waiting", {3, 4, 5}, params);
  ASSERT_TRUE(h.step());
  EXPECT_GT(h.blocks().stats().num_used_blocks, 0);
  h.scheduler().finish(waiting);
  h.scheduler().finish(running);
  EXPECT_EQ(running->state, SequenceState::kFinished);
  EXPECT_FALSE(h.scheduler().has_unfinished());
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
}

// EngineCore delivers a step's outputs while the next step runs, so a stop string can finish a
// sequence that is already in the running step: update() must skip it (no token, no update)
// and leave its freed blocks alone.
TEST(Scheduler, UpdateSkipsSequencesFinishedWhileTheStepRan) {
  Harness h(Options{});
  SamplingParams params;
  params.max_tokens = 50;
  Sequence* stopped = h.add("stopped", {3, 4, 5}, params);
  Sequence* other = h.add("other", {3, 6, 7}, params);
  ASSERT_TRUE(h.step());
  const SchedulerOutput out = h.scheduler().schedule();
  ASSERT_EQ(out.scheduled.size(), 2U);
  const RunnerOutput result = h.runner().execute(out);
  h.scheduler().launched(out);
  const size_t stopped_tokens = stopped->token_ids.size() - 1;  // the pending one goes
  h.scheduler().finish(stopped);
  const std::vector<SequenceUpdate> updates = h.scheduler().update(out, result);
  ASSERT_EQ(updates.size(), 1U);
  EXPECT_EQ(updates[0].seq, other);
  EXPECT_EQ(stopped->token_ids.size(), stopped_tokens);
  EXPECT_TRUE(stopped->block_table.blocks.empty());
  h.scheduler().finish(other);
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
}

}  // namespace
}  // namespace swiftkv
