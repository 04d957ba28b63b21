// A stand-in for swiftkv::Engine behind the server's EngineClient interface, for testing the
// HTTP layer without a model: same threading and contract (deltas on its own thread, abort,
// deadlines, bounded queue, shutdown with drain and timeout), deterministic output.
//
// Every step (`step` apart) each running request emits one token from a fixed cycle of ids
// (`cycle`), so the expected text of a request is decode(first max_tokens ids of the cycle);
// requests finish with kLength at max_tokens. At most `max_running` requests run; others wait,
// and add_request throws QueueFullError when `max_queued` are waiting. pause() stops stepping
// (requests stay where they are) until resume().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/engine_client.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::testing {

struct FakeEngineOptions {
  int64_t max_running = 4;
  int64_t max_queued = 16;
  std::chrono::milliseconds step{2};
  int64_t num_blocks = 1024;
  int64_t block_size = 16;
};

inline FakeEngineOptions fake_options(int64_t max_running, int64_t max_queued,
                                      std::chrono::milliseconds step) {
  FakeEngineOptions options;
  options.max_running = max_running;
  options.max_queued = max_queued;
  options.step = step;
  return options;
}

class FakeEngine final : public server::EngineClient {
 public:
  FakeEngine(const Tokenizer& tokenizer, std::vector<int32_t> cycle, FakeEngineOptions options);
  ~FakeEngine() override;

  void add_request(Request request, OutputCallback on_output) override;
  void abort(const std::string& request_id) override;
  void shutdown(std::chrono::milliseconds timeout) override;
  EngineStats stats() const override;

  void pause();
  void resume();
  // Reports the engine dead in stats() (as a failed engine would).
  void set_dead(bool dead);
  // Ids of the requests that ended with kAbort, in order.
  std::vector<std::string> aborted() const;
  // The requests received (as the server built them), in order.
  std::vector<Request> received() const;
  // The text a request with `max_tokens` produces.
  std::string expected_text(int64_t max_tokens) const;

 private:
  struct Live {
    Request request;
    OutputCallback on_output;
    std::unique_ptr<IncrementalDetokenizer> detokenizer;
    int64_t num_generated = 0;
    bool running = false;
  };
  using Delivery = std::pair<OutputCallback, RequestOutput>;

  void loop();
  // Under mutex_: finishes `live` with `status` into `out`.
  void finish_locked(Live& live, FinishStatus status, std::vector<Delivery>& out);
  RequestOutput output_for(const Live& live) const;

  const Tokenizer& tokenizer_;
  std::vector<int32_t> cycle_;
  FakeEngineOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Live>> live_;
  std::vector<std::string> aborted_;
  std::vector<Request> received_;
  bool paused_ = false;
  bool dead_ = false;
  bool accepting_ = true;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace swiftkv::testing
