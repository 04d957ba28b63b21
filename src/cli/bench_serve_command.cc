// `swiftkv bench serve`: load test of an OpenAI-compatible server with `vllm bench serve`'s
// metrics (server/bench/bench_serve.h); a one-screen summary on stdout, an optional JSON file.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "server/bench/bench_serve.h"

namespace swiftkv::cli {
namespace {

struct BenchServeCli {
  bench::BenchServeOptions options;
  std::string request_rate = "inf";
  std::string result_file;
};

double parse_rate(const std::string& text) {
  if (text == "inf" || text == "Inf") {
    return INFINITY;
  }
  size_t used = 0;
  double rate = 0.0;
  try {
    rate = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(rate > 0.0)) {
    throw Error(str_cat("--request-rate must be a positive number or inf, got '", text, "'"));
  }
  return rate;
}

void run_bench_serve_command(BenchServeCli& cli) {
  cli.options.request_rate = parse_rate(cli.request_rate);
  const bench::BenchServeResult result = bench::run_bench_serve(cli.options);
  std::fputs(bench::format_summary(result.summary).c_str(), stdout);
  if (!cli.result_file.empty()) {
    std::ofstream out(cli.result_file);
    out << bench::result_json(cli.options, result).dump(2) << "\n";
    if (!out) {
      throw Error(str_cat("cannot write --result-file ", cli.result_file));
    }
    std::fprintf(stderr, "results written to %s\n", cli.result_file.c_str());
  }
  for (const bench::RequestResult& r : result.requests) {
    if (!r.success) {
      std::fprintf(stderr, "first failure: %s\n", r.error.c_str());
      break;
    }
  }
}

}  // namespace

void register_bench_serve(CLI::App& bench) {
  auto cli = std::make_shared<BenchServeCli>();
  bench::BenchServeOptions& o = cli->options;
  CLI::App* cmd = bench.add_subcommand(
      "serve", "Load-test an OpenAI-compatible server (vllm bench serve metrics)");
  cmd->add_option("--base-url", o.base_url, "Server URL")->capture_default_str();
  cmd->add_option("--endpoint", o.endpoint, "/v1/completions or /v1/chat/completions")
      ->check(CLI::IsMember({"/v1/completions", "/v1/chat/completions"}))
      ->capture_default_str();
  cmd->add_option("--model", o.model, "Model name (default: the server's first model)");
  cmd->add_option("--api-key", o.api_key, "Bearer token for the server");
  cmd->add_option("--input-len", o.input_len, "Prompt tokens per request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--output-len", o.output_len, "Output tokens per request (ignore_eos)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--num-prompts", o.num_prompts, "Number of requests")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--request-rate", cli->request_rate,
                  "Requests per second, Poisson arrivals (inf: all at once)")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", o.max_concurrency,
                  "Requests in flight at most (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o.seed, "Random seed (prompts, arrivals)")->capture_default_str();
  cmd->add_option("--temperature", o.temperature, "Sampling temperature")->capture_default_str();
  cmd->add_option("--timeout", o.timeout_seconds, "Seconds per request before giving up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--result-file", cli->result_file, "Write the results as JSON here");
  cmd->callback([cli] { run_bench_serve_command(*cli); });
}

}  // namespace swiftkv::cli
