// A real `swiftkv serve` child process on stories260K: it listens with an ephemeral port, logs
// its KV-cache capacity, serves, and on SIGTERM finishes the in-flight stream and exits 0.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "model/test_models.h"
#include "server/http_test_util.h"

extern char** environ;

namespace swiftkv::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A child process whose stderr is collected by a thread.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int pipe_fds[2];
    EXPECT_EQ(pipe(pipe_fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    reader_ = std::thread([this, fd = pipe_fds[0]] {
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) {
        const std::lock_guard lock(mutex_);
        log_.append(buffer, static_cast<size_t>(n));
      }
      close(fd);
    });
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    reader_.join();
  }

  std::string log() const {
    const std::lock_guard lock(mutex_);
    return log_;
  }
  void signal(int sig) const { kill(pid_, sig); }
  // The exit status, or -1 if it has not exited within `timeout`.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  mutable std::mutex mutex_;
  std::string log_;
  std::thread reader_;
};

TEST(ServeProcessTest, SigtermDrainsTheStreamAndExitsZero) {
  Child child({std::string(SWIFTKV_BINARY_DIR) + "/src/cli/swiftkv", "serve", "--model",
               stories260k_dir(), "--port", "0", "--threads", "1", "--served-model-name", "s",
               "--shutdown-timeout", "30", "--kv-cache-memory", "64M"});
  int port = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const std::string log = child.log();
        const std::string marker = "listening on http://127.0.0.1:";
        if (const size_t at = log.find(marker); port == 0 && at != std::string::npos) {
          port = std::atoi(log.c_str() + at + marker.size());
        }
        return port > 0 && http_get(port, "/health").status == 200;
      },
      30000))
      << child.log();
  EXPECT_NE(child.log().find("KV cache:"), std::string::npos) << child.log();

  std::promise<void> started;
  auto stream = std::async(std::launch::async, [&] {
    bool first = true;
    return http_stream(port, "/v1/completions",
                       json{{"model", "s"},
                            {"prompt", "Once upon a time"},
                            {"max_tokens", 400},
                            {"ignore_eos", true},
                            {"temperature", 0},
                            {"stream", true},
                            {"stream_options", {{"include_usage", true}}}},
                       [&](const json&) {
                         if (first) {
                           first = false;
                           started.set_value();
                         }
                         return true;
                       });
  });
  ASSERT_EQ(started.get_future().wait_for(30s), std::future_status::ready) << child.log();
  child.signal(SIGTERM);
  const StreamReply reply = stream.get();
  EXPECT_TRUE(reply.done) << child.log();
  EXPECT_TRUE(reply.error.is_null()) << reply.error;
  EXPECT_EQ(reply.usage["completion_tokens"], 400);
  EXPECT_EQ(child.wait_exit(30s), 0) << child.log();
  EXPECT_NE(child.log().find("shutdown complete"), std::string::npos) << child.log();
}

}  // namespace
}  // namespace swiftkv::testing
