// The `bench serve` load client; see bench_serve.h.
#include "server/bench/bench_serve.h"

#include <httplib.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"
#include "server/bench/sse_parser.h"

namespace swiftkv::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

class Semaphore {
 public:
  explicit Semaphore(int64_t count) : count_(count) {}
  void acquire() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return count_ > 0; });
    --count_;
  }
  void release() {
    {
      const std::lock_guard lock(mutex_);
      ++count_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int64_t count_;
};

std::unique_ptr<httplib::Client> make_client(const BenchServeOptions& o) {
  auto client = std::make_unique<httplib::Client>(o.base_url);
  if (!client->is_valid()) {
    throw Error(str_cat("bad --base-url '", o.base_url, "'"));
  }
  const auto timeout = static_cast<time_t>(o.timeout_seconds);
  client->set_read_timeout(timeout, 0);
  client->set_write_timeout(timeout, 0);
  client->set_connection_timeout(10, 0);
  client->set_tcp_nodelay(true);
  if (!o.api_key.empty()) {
    client->set_bearer_token_auth(o.api_key);
  }
  return client;
}

json post_json(const BenchServeOptions& o, const std::string& path, const json& body) {
  const auto client = make_client(o);
  const httplib::Result result = client->Post(path, body.dump(), "application/json");
  if (!result) {
    throw Error(
        str_cat("POST ", o.base_url, path, " failed: ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    throw Error(str_cat("POST ", path, " answered ", result->status, ": ", result->body));
  }
  return json::parse(result->body);
}

// The server's first model id and max_model_len.
std::pair<std::string, int64_t> server_model(const BenchServeOptions& o) {
  const auto client = make_client(o);
  const httplib::Result result = client->Get("/v1/models");
  if (!result) {
    throw Error(
        str_cat("GET ", o.base_url, "/v1/models failed: ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    throw Error(str_cat("GET /v1/models answered ", result->status, ": ", result->body));
  }
  const json models = json::parse(result->body);
  const json& data = models.at("data");
  if (data.empty()) {
    throw Error("the server lists no model");
  }
  std::string id = o.model.empty() ? data[0].at("id").get<std::string>() : o.model;
  int64_t max_model_len = 0;
  for (const json& model : data) {
    if (model.at("id") == id) {
      max_model_len = model.value("max_model_len", int64_t{0});
    }
  }
  return {id, max_model_len};
}

// Random lowercase words, tokenized by the server, cut to exactly `input_len` tokens.
std::vector<int32_t> random_prompt(const BenchServeOptions& o, const std::string& model,
                                   std::mt19937_64& rng) {
  std::uniform_int_distribution<int> letter('a', 'z');
  std::uniform_int_distribution<int> word_len(2, 8);
  std::string text;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int64_t num_words = o.input_len * (attempt + 1);
    for (int64_t w = 0; w < num_words; ++w) {
      text += ' ';
      for (int c = word_len(rng); c > 0; --c) {
        text += static_cast<char>(letter(rng));
      }
    }
    const json tokens = post_json(
        o, "/tokenize", {{"model", model}, {"prompt", text}, {"add_special_tokens", false}});
    std::vector<int32_t> ids = tokens.at("tokens").get<std::vector<int32_t>>();
    if (static_cast<int64_t>(ids.size()) >= o.input_len) {
      ids.resize(static_cast<size_t>(o.input_len));
      return ids;
    }
  }
  throw Error("could not build a prompt of --input-len tokens");
}

bool is_chat(const BenchServeOptions& o) { return o.endpoint.find("chat") != std::string::npos; }

json request_body(const BenchServeOptions& o, const std::string& model, const json& prompt,
                  int64_t max_tokens) {
  json body = {{"model", model},     {"temperature", o.temperature},
               {"stream", true},     {"stream_options", {{"include_usage", true}}},
               {"ignore_eos", true}, {"repetition_penalty", 1.0}};
  if (is_chat(o)) {
    body["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
    body["max_completion_tokens"] = max_tokens;
  } else {
    body["prompt"] = prompt;
    body["max_tokens"] = max_tokens;
  }
  return body;
}

// One streamed request, timed like vllm/benchmarks/lib/endpoint_request_func.py.
RequestResult send_request(const BenchServeOptions& o, const json& body, int64_t prompt_len,
                           Clock::time_point bench_start) {
  RequestResult r;
  r.prompt_len = prompt_len;
  const auto client = make_client(o);
  httplib::Request req;
  req.method = "POST";
  req.path = o.endpoint;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  bool first = true;
  Clock::time_point start{};
  Clock::time_point last{};
  int64_t num_token_messages = 0;
  int64_t usage_tokens = -1;
  std::string raw;  // the body, for error reports
  SseParser parser([&](const std::string& data) {
    if (data == "[DONE]") {
      return;
    }
    const json message = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) {
      return;
    }
    if (const auto choices = message.find("choices");
        choices != message.end() && choices->is_array() && !choices->empty()) {
      const Clock::time_point now = Clock::now();
      if (first) {
        r.ttft = std::chrono::duration<double>(now - start).count();
        first = false;
      } else {
        r.itl.push_back(std::chrono::duration<double>(now - last).count());
      }
      last = now;
      ++num_token_messages;
    } else if (const auto usage = message.find("usage");
               usage != message.end() && usage->is_object()) {
      usage_tokens = usage->value("completion_tokens", int64_t{-1});
      if (is_chat(o)) {
        r.prompt_len = usage->value("prompt_tokens", r.prompt_len);
      }
    } else if (message.contains("error")) {
      r.error = message["error"].dump();
    }
  });
  req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (raw.size() < 4096) {
      raw.append(data, std::min<size_t>(size, 4096));
    }
    parser.feed(std::string_view(data, size));
    return true;
  };
  start = Clock::now();
  r.start = std::chrono::duration<double>(start - bench_start).count();
  const httplib::Result result = client->send(req);
  parser.finish();
  if (!result) {
    r.error = str_cat("connection error: ", httplib::to_string(result.error()));
    return r;
  }
  if (result->status != 200) {
    r.error = str_cat("HTTP ", result->status, ": ", raw);
    return r;
  }
  r.success = !first && r.error.empty();
  if (!r.success && r.error.empty()) {
    r.error = "no token in the response";
  }
  r.latency = std::chrono::duration<double>(last - start).count();
  r.output_tokens = usage_tokens >= 0 ? usage_tokens : num_token_messages;
  return r;
}

// Arrival offsets in seconds: Poisson (exponential gaps) scaled so the last is at n / rate.
std::vector<double> arrival_times(int64_t n, double rate, std::mt19937_64& rng) {
  std::vector<double> times(static_cast<size_t>(n), 0.0);
  if (!(rate > 0.0) || std::isinf(rate) || n == 0) {
    return times;
  }
  std::exponential_distribution<double> gap(rate);
  double t = 0.0;
  for (double& time : times) {
    t += gap(rng);
    time = t;
  }
  const double scale = (static_cast<double>(n) / rate) / times.back();
  for (double& time : times) {
    time *= scale;
  }
  return times;
}

}  // namespace

BenchServeResult run_bench_serve(const BenchServeOptions& o) {
  if (o.input_len < 1 || o.output_len < 1 || o.num_prompts < 1) {
    throw Error("--input-len, --output-len and --num-prompts must be >= 1");
  }
  BenchServeResult out;
  int64_t max_model_len = 0;
  std::tie(out.model, max_model_len) = server_model(o);
  if (max_model_len > 0 && o.input_len + o.output_len > max_model_len) {
    throw Error(str_cat("--input-len + --output-len = ", o.input_len + o.output_len,
                        " exceeds the server's max_model_len ", max_model_len));
  }
  std::mt19937_64 rng(o.seed);
  std::fprintf(stderr, "bench serve: building %lld prompts of %lld tokens for '%s'\n",
               static_cast<long long>(o.num_prompts), static_cast<long long>(o.input_len),
               out.model.c_str());
  std::vector<json> prompts;
  for (int64_t i = 0; i < o.num_prompts; ++i) {
    std::vector<int32_t> ids = random_prompt(o, out.model, rng);
    if (is_chat(o)) {
      prompts.push_back(
          post_json(o, "/detokenize", {{"model", out.model}, {"tokens", ids}}).at("prompt"));
    } else {
      prompts.push_back(ids);
    }
  }

  const RequestResult warmup =
      send_request(o, request_body(o, out.model, prompts[0], std::min<int64_t>(o.output_len, 4)),
                   o.input_len, Clock::now());
  if (!warmup.success) {
    throw Error(str_cat("the warm-up request failed: ", warmup.error));
  }
  std::fprintf(stderr, "bench serve: warm-up ok; sending %lld requests (rate %s, concurrency %s)\n",
               static_cast<long long>(o.num_prompts),
               o.request_rate > 0 && !std::isinf(o.request_rate)
                   ? str_cat(o.request_rate, " req/s").c_str()
                   : "inf",
               o.max_concurrency > 0 ? std::to_string(o.max_concurrency).c_str() : "unlimited");

  const std::vector<double> arrivals = arrival_times(o.num_prompts, o.request_rate, rng);
  out.requests.resize(static_cast<size_t>(o.num_prompts));
  Semaphore slots(o.max_concurrency > 0 ? o.max_concurrency : o.num_prompts);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(o.num_prompts));
  const Clock::time_point start = Clock::now();
  for (size_t i = 0; i < out.requests.size(); ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(arrivals[i])));
    slots.acquire();
    threads.emplace_back([&, i] {
      out.requests[i] =
          send_request(o, request_body(o, out.model, prompts[i], o.output_len), o.input_len, start);
      slots.release();
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const double duration = std::chrono::duration<double>(Clock::now() - start).count();
  out.summary = compute_summary(out.requests, duration);
  return out;
}

json result_json(const BenchServeOptions& o, const BenchServeResult& result) {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y%m%d-%H%M%S", std::localtime(&now));
  json out = summary_json(result.summary);
  out["date"] = date;
  out["backend"] = is_chat(o) ? "openai-chat" : "openai";
  out["base_url"] = o.base_url;
  out["endpoint"] = o.endpoint;
  out["model_id"] = result.model;
  out["num_prompts"] = o.num_prompts;
  out["input_len"] = o.input_len;
  out["output_len"] = o.output_len;
  out["request_rate"] =
      o.request_rate > 0 && !std::isinf(o.request_rate) ? json(o.request_rate) : json("inf");
  out["max_concurrency"] = o.max_concurrency > 0 ? json(o.max_concurrency) : json(nullptr);
  out["seed"] = o.seed;
  json input_lens = json::array();
  json output_lens = json::array();
  json ttfts = json::array();
  json itls = json::array();
  json errors = json::array();
  for (const RequestResult& r : result.requests) {
    input_lens.push_back(r.prompt_len);
    output_lens.push_back(r.success ? r.output_tokens : 0);
    ttfts.push_back(r.success ? r.ttft : 0.0);
    itls.push_back(r.itl);
    errors.push_back(r.error);
  }
  out["input_lens"] = std::move(input_lens);
  out["output_lens"] = std::move(output_lens);
  out["ttfts"] = std::move(ttfts);
  out["itls"] = std::move(itls);
  out["errors"] = std::move(errors);
  return out;
}

}  // namespace swiftkv::bench
