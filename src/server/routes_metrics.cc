// GET /metrics: Prometheus text exposition of server_metrics.h (no API key needed).
#include "server/route_util.h"
#include "server/routes.h"

namespace swiftkv::server {

void register_metrics_routes(httplib::Server& http, ServerContext& context) {
  http.Get("/metrics", [&context](const httplib::Request&, httplib::Response& res) {
    run_guarded(res, [&] {
      const ModelBinding* model = context.binding();
      std::string text;
      if (model != nullptr) {
        const EngineStats stats = model->engine->stats();
        text = context.metrics().render(&stats);
      } else {
        text = context.metrics().render(nullptr);
      }
      res.status = 200;
      res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });
  });
}

}  // namespace swiftkv::server
