// `swiftkv serve`: the OpenAI-compatible HTTP server (DESIGN.md §5) over the serving engine.
//
// Order of events: listen at once (/health says 503 while loading; a line is logged every
// 10 s of loading), load tokenizer and model (--device cpu or cuda), plan the KV cache (CPU:
// --kv-cache-memory, default min(4 GiB, max_num_seqs x max_model_len tokens); CUDA:
// --gpu-memory-utilization of the device after a worst-case profiling step, in bf16 or with
// --kv-cache-dtype fp8 in e4m3 (twice the tokens); the log says how many tokens it holds),
// start the engine, serve. SIGTERM / SIGINT: refuse new requests (503),
// let in-flight ones finish for up to --shutdown-timeout seconds (then they are aborted), exit
// 0; a second signal exits at once. A signal during loading exits at once.
//
// `random:<shape>` models (benchmarks) have no tokenizer of their own: --tokenizer names a
// directory with a tokenizer.json of the same vocabulary (e.g. Llama 3's for
// random:llama-3.1-8b); prompts may also be sent as token-id lists.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/engine_model.h"
#include "cli/runtime_options.h"
#include "core/error.h"
#include "core/logging.h"
#include "engine/capacity.h"
#include "engine/engine.h"
#include "model/loader.h"
#include "server/api_server.h"
#include "server/engine_client.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::cli {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kBlockSize = 16;
constexpr int64_t kDefaultKvCacheBytes = int64_t{4} << 30;

struct ServeOptions {
  std::string model;
  std::string tokenizer;  // a directory; empty: --model
  std::string device = "cpu";
  int tensor_parallel_size = 1;         // --device cuda: GPUs the model is split over
  std::string kv_cache_dtype = "auto";  // auto | bf16 | fp8 (CUDA only)
  int64_t swiftkv_layers = 0;           // random: models only
  int64_t group_size = 1;               // random: models only
  std::string host = "127.0.0.1";
  int port = 8000;
  std::vector<std::string> served_model_names;
  std::string api_key;
  std::string chat_template;  // a file
  int64_t max_model_len = 0;
  int64_t max_num_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t max_queued_requests = 1024;
  std::string kv_cache_memory;  // bytes, K/M/G suffixes allowed; empty: default
  double gpu_memory_utilization = 0.9;
  double request_timeout = 0.0;    // seconds; 0: none
  double shutdown_timeout = 30.0;  // seconds
  bool no_prefix_caching = false;
  bool no_pipelined_steps = false;
  RuntimeOptions runtime;
};

// "4G", "512MiB", "1073741824" -> bytes.
int64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string suffix = text.substr(used);
  for (char& c : suffix) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  double scale = 0.0;
  for (const auto& [name, factor] :
       std::vector<std::pair<std::string, double>>{{"", 1.0},
                                                   {"B", 1.0},
                                                   {"K", 1024.0},
                                                   {"KB", 1024.0},
                                                   {"KIB", 1024.0},
                                                   {"M", 1048576.0},
                                                   {"MB", 1048576.0},
                                                   {"MIB", 1048576.0},
                                                   {"G", 1073741824.0},
                                                   {"GB", 1073741824.0},
                                                   {"GIB", 1073741824.0}}) {
    if (suffix == name) {
      scale = factor;
    }
  }
  if (used == 0 || scale == 0.0 || value <= 0.0) {
    throw Error(
        str_cat("--kv-cache-memory: expected a byte count like 4G or 536870912, got '", text, "'"));
  }
  return static_cast<int64_t>(value * scale);
}

std::string read_text_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw Error(str_cat("cannot open --chat-template file ", path));
  }
  std::string text;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0;) {
    text.append(buffer, n);
  }
  std::fclose(file);
  return text;
}

// The write end of the self-pipe the signal handler writes to (a signal handler can reach
// nothing else; there is one per process).
int g_signal_pipe_write = -1;

extern "C" void on_stop_signal(int sig) {
  const auto byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe_write, &byte, 1);
}

// SIGTERM / SIGINT, handled on a thread of its own. A handler plus a self-pipe rather than
// sigwait(): libraries (OpenBLAS) start threads before main() that would otherwise receive the
// signal with its default action.
class SignalWatcher {
 public:
  SignalWatcher() {
    int fds[2];
    if (pipe(fds) != 0) {
      throw Error("cannot create the signal pipe");
    }
    read_fd_ = fds[0];
    g_signal_pipe_write = fds[1];
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    thread_ = std::thread([this] { loop(); });
  }
  ~SignalWatcher() {
    stop_ = true;
    thread_.join();
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  void set_loaded() { loaded_ = true; }
  // Blocks until the first signal.
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return signalled_; });
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd fd{.fd = read_fd_, .events = POLLIN, .revents = 0};
      unsigned char sig = 0;
      if (poll(&fd, 1, 200) <= 0 || read(read_fd_, &sig, 1) != 1) {
        continue;
      }
      if (!loaded_) {
        log_info("signal ", static_cast<int>(sig), " while loading: exiting");
        std::_Exit(0);
      }
      bool first = false;
      {
        const std::lock_guard lock(mutex_);
        first = !signalled_;
        signalled_ = true;
      }
      if (!first) {
        log_warning("second signal: exiting without draining");
        std::_Exit(1);
      }
      log_info("signal ", static_cast<int>(sig), " received: shutting down");
      cv_.notify_all();
    }
  }

  int read_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> loaded_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool signalled_ = false;
  std::thread thread_;
};

// Logs a line every 10 s until destroyed.
class LoadingTicker {
 public:
  explicit LoadingTicker(std::string what) : what_(std::move(what)), thread_([this] { loop(); }) {}
  ~LoadingTicker() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_; })) {
      log_info(
          "still loading ", what_, " (",
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
              .count(),
          " s)");
    }
  }

  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

void run_serve(const ServeOptions& o) {
  // Flag combinations first, before the port is taken or anything is loaded.
  const EngineDevice device = parse_device(o.device);
  const std::optional<DType> kv_cache_dtype =
      parse_kv_cache_dtype(o.kv_cache_dtype, device, DType::kBF16);
  SignalWatcher watcher;

  server::ServerOptions server_options;
  server_options.host = o.host;
  server_options.port = o.port;
  server_options.served_model_names =
      o.served_model_names.empty() ? std::vector<std::string>{o.model} : o.served_model_names;
  server_options.model_root = o.model;
  server_options.api_key = o.api_key;
  if (!o.chat_template.empty()) {
    server_options.chat_template = read_text_file(o.chat_template);
  }
  server_options.request_timeout = milliseconds(static_cast<int64_t>(o.request_timeout * 1000));
  server_options.max_http_threads =
      static_cast<size_t>(std::min<int64_t>(o.max_num_seqs + o.max_queued_requests + 64, 4096));
  server::ApiServer server(server_options);
  server.start();

  const auto load_start = std::chrono::steady_clock::now();
  log_info(
      "loading model ", o.model, " on ", o.device, " (swiftkv ", o.runtime.swiftkv,
      device == EngineDevice::kCpu ? str_cat(", ", o.runtime.threads, " threads") : std::string(),
      ")");
  const std::string tokenizer_dir = o.tokenizer.empty() ? o.model : o.tokenizer;
  if (o.tokenizer.empty() && o.model.starts_with("random:")) {
    throw Error(str_cat("--model ", o.model,
                        " has no tokenizer: give --tokenizer DIR (a tokenizer.json of the same "
                        "vocabulary, e.g. Llama 3's for random:llama-3.1-8b)"));
  }
  std::unique_ptr<EngineModel> model;
  std::optional<Tokenizer> tokenizer;
  {
    const LoadingTicker ticker(o.model);
    tokenizer.emplace(Tokenizer::load(tokenizer_dir));
    LoadOptions load;
    load.mode = parse_swiftkv_mode(o.runtime.swiftkv);
    load.random_swiftkv_layers = o.swiftkv_layers;
    load.random_group_size = o.group_size;
    // CUDA activation buffers and graphs sized for the engine's limits.
    CudaModelOptions cuda;
    cuda.max_num_batched_tokens = o.max_num_batched_tokens;
    cuda.max_num_seqs = o.max_num_seqs;
    cuda.max_num_logits = o.max_num_seqs;
    cuda.max_model_len = o.max_model_len;  // 0: the model's max_position_embeddings
    cuda.kv_cache_dtype = kv_cache_dtype;
    model = std::make_unique<EngineModel>(o.model, load, device, o.runtime, cuda,
                                          o.tensor_parallel_size);
  }
  if (tokenizer->vocab_size() > model->config().vocab_size) {
    throw Error(str_cat("the tokenizer of ", tokenizer_dir, " has ", tokenizer->vocab_size(),
                        " tokens, more than the model's vocabulary of ",
                        model->config().vocab_size));
  }
  const int64_t max_model_len =
      o.max_model_len > 0 ? o.max_model_len : model->config().max_position_embeddings;
  const int64_t bytes_per_token = model->bytes_per_token();
  EngineConfig config;
  config.block_size = kBlockSize;
  if (device == EngineDevice::kCuda) {
    const GpuCachePlan plan =
        plan_gpu_num_blocks(model->step(), o.gpu_memory_utilization, kBlockSize, max_model_len,
                            o.max_num_batched_tokens, o.max_num_seqs);
    log_info(model->description(), ": ", plan.used_bytes / 1048576,
             " MiB in use after loading and a ", o.max_num_batched_tokens,
             "-token profiling step; --gpu-memory-utilization ", o.gpu_memory_utilization, " of ",
             plan.total_bytes / 1048576, " MiB leaves the KV cache ",
             plan.num_blocks * plan.bytes_per_block / 1048576, " MiB");
    config.num_blocks = plan.num_blocks;
  } else {
    const int64_t kv_bytes =
        o.kv_cache_memory.empty()
            ? std::min(kDefaultKvCacheBytes, o.max_num_seqs * max_model_len * bytes_per_token)
            : parse_bytes(o.kv_cache_memory);
    config.num_blocks = plan_num_blocks(model->cpu_model(), kv_bytes, kBlockSize, max_model_len);
  }
  config.max_model_len = max_model_len;
  config.max_num_batched_tokens = o.max_num_batched_tokens;
  config.max_num_seqs = o.max_num_seqs;
  config.max_queued_requests = o.max_queued_requests;
  config.enable_prefix_caching = !o.no_prefix_caching;
  config.pipelined_steps = !o.no_pipelined_steps;
  Engine engine(model->step(), *tokenizer, config);
  const int64_t kv_tokens = config.num_blocks * kBlockSize;
  log_info("model loaded in ",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count(),
           " s; KV cache: ", config.num_blocks, " blocks x ", kBlockSize, " = ", kv_tokens,
           " tokens (",
           static_cast<double>(config.num_blocks * kBlockSize * bytes_per_token) / 1048576.0,
           " MiB of ", dtype_name(model->kv_cache_dtype()), "), max concurrency at max_model_len ",
           engine.config().max_model_len, ": ",
           static_cast<double>(kv_tokens) / static_cast<double>(engine.config().max_model_len),
           "x; prefix caching ", config.enable_prefix_caching ? "on" : "off");
  const std::unique_ptr<server::EngineClient> client = server::make_engine_client(engine);
  server.attach({.engine = client.get(),
                 .tokenizer = &*tokenizer,
                 .max_model_len = engine.config().max_model_len,
                 .vocab_size = model->config().vocab_size});
  watcher.set_loaded();

  watcher.wait();
  server.shutdown(milliseconds(static_cast<int64_t>(o.shutdown_timeout * 1000)));
}

}  // namespace

void register_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  cmd->add_option("--model", o->model, "Model directory (Hugging Face format) or random:<shape>")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer,
                  "Directory with tokenizer.json (default: --model; required for random:)");
  add_device_option(*cmd, o->device);
  add_tensor_parallel_option(*cmd, o->tensor_parallel_size);
  add_kv_cache_dtype_option(*cmd, o->kv_cache_dtype);
  cmd->add_option("--swiftkv-layers", o->swiftkv_layers,
                  "random: models only: number of SwiftKV layers (0 = plain Llama)");
  cmd->add_option("--group-size", o->group_size, "random: models only: AcrossKV group size");
  cmd->add_option("--host", o->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "Port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--served-model-name", o->served_model_names,
                  "Model name(s) in the API (default: the --model path)");
  cmd->add_option("--api-key", o->api_key,
                  "Require 'Authorization: Bearer KEY' (not on /health and /metrics)");
  cmd->add_option("--chat-template", o->chat_template,
                  "Jinja chat template file (default: tokenizer_config.json's)");
  cmd->add_option("--max-model-len", o->max_model_len,
                  "Context length (default: max_position_embeddings)");
  cmd->add_option("--max-num-batched-tokens", o->max_num_batched_tokens, "Tokens per engine step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", o->max_num_seqs, "Requests running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-queued-requests", o->max_queued_requests,
                  "Waiting requests beyond this are refused with 429")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--kv-cache-memory", o->kv_cache_memory,
                  "KV cache bytes on CPU, e.g. 4G (default: min(4G, max-num-seqs x "
                  "max-model-len tokens))");
  cmd->add_option("--gpu-memory-utilization", o->gpu_memory_utilization,
                  "--device cuda: fraction of GPU memory for weights, activations and the KV "
                  "cache (planned after a worst-case profiling step)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--request-timeout", o->request_timeout,
                  "Seconds a request may take before it is aborted (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout,
                  "Seconds in-flight requests may take after SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--no-prefix-caching", o->no_prefix_caching, "Disable prefix caching");
  cmd->add_flag("--no-pipelined-steps", o->no_pipelined_steps,
                "CUDA: wait for each step's tokens before queueing the next (pipelined steps "
                "hide the host's step work behind the GPU's)");
  add_runtime_options(*cmd, o->runtime);
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace swiftkv::cli
