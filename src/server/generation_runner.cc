// Streaming and non-streaming responses for generation requests; see generation_runner.h.
#include "server/generation_runner.h"

#include <chrono>
#include <string>
#include <utility>

#include "core/logging.h"
#include "server/connection_probe.h"
#include "server/sse.h"

namespace swiftkv::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPollInterval{50};     // wait for output at most this long per poll
constexpr milliseconds kProbeInterval{200};   // look for a closed client this often when idle
constexpr milliseconds kDeadlineGrace{2000};  // the engine ends timed-out requests itself

bool should_stream(const GenerationSession& session, const ChoiceDelta& delta) {
  if (!delta.text.empty() || !delta.logprobs.empty()) {
    return true;
  }
  if (!delta.finish) {
    return false;
  }
  switch (*delta.finish) {
    case FinishStatus::kStop:
    case FinishStatus::kLength:
      return true;
    case FinishStatus::kAbort:
      return !session.failure().has_value();
    case FinishStatus::kError:
    case FinishStatus::kRunning:
      break;
  }
  return false;
}

// Per-stream state, owned by the content provider.
class StreamWriter {
 public:
  StreamWriter(const httplib::Request& req, std::shared_ptr<GenerationSession> session,
               std::shared_ptr<const ResponseFormatter> formatter)
      : probe_(req), session_(std::move(session)), formatter_(std::move(formatter)) {}

  // One provider call: sends what arrived within one poll interval. False ends the stream
  // as failed (client gone).
  bool step(httplib::DataSink& sink) {
    if (done_) {
      return true;
    }
    std::string frames;
    bool errored = false;
    for (const RequestOutput& output : session_->wait(kPollInterval)) {
      const ChoiceDelta delta = session_->apply(output);
      errored = errored || (delta.finish && *delta.finish == FinishStatus::kError);
      if (should_stream(*session_, delta)) {
        ChoiceState& choice = session_->choices()[delta.index];
        frames += sse_event(formatter_->chunk(*session_, delta, !choice.streamed));
        choice.streamed = true;
      }
    }
    if (errored) {
      session_->abort_unfinished();
    }
    if (frames.empty() && !session_->finished()) {
      return idle_checks();
    }
    if (session_->finished()) {
      finish(frames);
    }
    if (!sink.write(frames.data(), frames.size())) {
      return client_gone("write failed");
    }
    if (done_) {
      sink.done();
    }
    return true;
  }

  void abort() { session_->abort_unfinished(); }

 private:
  bool idle_checks() {
    const auto now = Clock::now();
    if (now - last_probe_ >= kProbeInterval) {
      last_probe_ = now;
      if (probe_.client_gone()) {
        return client_gone("connection closed");
      }
    }
    if (session_->past_deadline(kDeadlineGrace)) {
      session_->abort_unfinished();
    }
    return true;
  }

  void finish(std::string& frames) {
    if (const std::optional<ApiError> failure = session_->failure()) {
      frames += sse_event(failure->to_json());
    } else if (session_->options().include_usage) {
      nlohmann::json chunk = session_->envelope(formatter_->chunk_object());
      chunk["choices"] = nlohmann::json::array();
      chunk["usage"] = session_->usage();
      frames += sse_event(chunk);
    }
    frames += kSseDone;
    done_ = true;
  }

  bool client_gone(const char* why) {
    log_info("request ", session_->id(), ": client disconnected (", why, "), aborting");
    session_->abort_unfinished();
    return false;
  }

  ConnectionProbe probe_;
  std::shared_ptr<GenerationSession> session_;
  std::shared_ptr<const ResponseFormatter> formatter_;
  Clock::time_point last_probe_ = Clock::now();
  bool done_ = false;
};

void run_to_end(const httplib::Request& req, httplib::Response& res, GenerationSession& session,
                const ResponseFormatter& formatter) {
  ConnectionProbe probe(req);
  auto last_probe = Clock::now();
  while (!session.finished()) {
    bool errored = false;
    for (const RequestOutput& output : session.wait(kPollInterval)) {
      const ChoiceDelta delta = session.apply(output);
      errored = errored || (delta.finish && *delta.finish == FinishStatus::kError);
    }
    if (errored) {
      session.abort_unfinished();
    }
    if (session.finished()) {
      break;
    }
    const auto now = Clock::now();
    if (now - last_probe >= kProbeInterval) {
      last_probe = now;
      if (probe.client_gone()) {
        log_info("request ", session.id(), ": client disconnected, aborting");
        session.abort_unfinished();
        res.status = 499;  // nginx's "client closed request"; nobody reads it
        return;
      }
    }
    if (session.past_deadline(kDeadlineGrace)) {
      session.abort_unfinished();
    }
    if (session.context().state() == ServerState::kStopped) {
      session.abort_unfinished();
      throw unavailable("the server stopped", "server_stopped");
    }
  }
  if (std::optional<ApiError> failure = session.failure()) {
    throw *failure;
  }
  res.status = 200;
  res.set_content(dump_json(formatter.response(session)), kJsonContentType);
}

}  // namespace

void respond_with_generation(const httplib::Request& req, httplib::Response& res,
                             std::shared_ptr<GenerationSession> session,
                             std::shared_ptr<const ResponseFormatter> formatter) {
  if (!session->options().stream) {
    run_to_end(req, res, *session, *formatter);
    return;
  }
  auto writer = std::make_shared<StreamWriter>(req, std::move(session), std::move(formatter));
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      kSseContentType,
      [writer](size_t /*offset*/, httplib::DataSink& sink) {
        try {
          return writer->step(sink);
        } catch (const std::exception& e) {
          log_warning("stream failed: ", e.what());
          writer->abort();
          return false;
        }
      },
      [writer](bool success) {
        if (!success) {
          writer->abort();
        }
      });
}

}  // namespace swiftkv::server
