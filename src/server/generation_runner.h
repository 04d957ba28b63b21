// Drives a submitted GenerationSession to its end and writes the HTTP response: one JSON body,
// or an SSE stream (`data: {...}` per chunk, an optional usage chunk, `data: [DONE]`).
//
// Streaming rules (vLLM / `vllm bench serve` compatible): a chunk is sent only for a delta that
// carries text or logprobs, or ends a choice, so no content-free chunk precedes the first
// token; an engine error, timeout or shutdown abort ends the stream with
// `data: {"error": {...}}` then `data: [DONE]`. A client that disconnects (failed write, or a
// closed socket seen by ConnectionProbe while no output flows) gets its requests aborted, which
// frees their KV blocks. Non-streaming responses map failures to 500 / 408 / 503.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "server/generation_session.h"

namespace swiftkv::server {

// The endpoint-specific shape of chunks and responses.
class ResponseFormatter {
 public:
  virtual ~ResponseFormatter() = default;
  // `object` of stream chunks ("text_completion", "chat.completion.chunk").
  virtual const char* chunk_object() const = 0;
  // One stream chunk for `delta`; `first`: no chunk of this choice was sent before.
  virtual nlohmann::json chunk(const GenerationSession& session, const ChoiceDelta& delta,
                               bool first) const = 0;
  // The non-streaming response.
  virtual nlohmann::json response(const GenerationSession& session) const = 0;
};

// Runs `session` (submitted) and fills `res`. Blocks until the end for non-streaming requests;
// for streaming ones installs a chunked content provider that httplib runs after the handler
// returns. Throws ApiError for a non-streaming failure.
void respond_with_generation(const httplib::Request& req, httplib::Response& res,
                             std::shared_ptr<GenerationSession> session,
                             std::shared_ptr<const ResponseFormatter> formatter);

}  // namespace swiftkv::server
