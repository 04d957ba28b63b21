// The route groups of the OpenAI-compatible server, one file each:
//   routes_completions.cc  POST /v1/completions
//   routes_chat.cc         POST /v1/chat/completions
//   routes_models.cc       GET /v1/models, POST /tokenize, POST /detokenize, GET /health
//   routes_metrics.cc      GET /metrics
// Each handler runs inside run_guarded() (route_util.h), so no exception escapes.
#pragma once

#include <httplib.h>

#include "server/server_context.h"

namespace swiftkv::server {

void register_completion_routes(httplib::Server& http, ServerContext& context);
void register_chat_routes(httplib::Server& http, ServerContext& context);
void register_model_routes(httplib::Server& http, ServerContext& context);
void register_metrics_routes(httplib::Server& http, ServerContext& context);

}  // namespace swiftkv::server
