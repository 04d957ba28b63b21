// `swiftkv eval`: perplexity, teacher-student KL and agreement on held-out data
// (train/evaluate.h; the engine's forward on CPU, f32). Prints one JSON object.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_options.h"
#include "core/mapped_file.h"
#include "model/loader.h"
#include "tokenizer/tokenizer.h"
#include "train/evaluate.h"

namespace swiftkv::cli {
namespace {

struct EvalCommandOptions {
  std::string model;
  std::string teacher;  // default: the model itself with --swiftkv off (when it is SwiftKV)
  std::string output;   // optional JSON file
  EvalOptions eval;
  RuntimeOptions runtime;
};

void run_eval(const EvalCommandOptions& o) {
  const Tokenizer tokenizer = Tokenizer::load(o.model);
  LoadOptions load;
  load.mode = parse_swiftkv_mode(o.runtime.swiftkv);
  const auto model = load_model(o.model, load);
  std::unique_ptr<LlamaModel> teacher;
  if (!o.teacher.empty()) {
    LoadOptions teacher_load;
    teacher_load.mode = SwiftKVMode::kOff;
    teacher = load_model(o.teacher, teacher_load);
  } else if (model->swiftkv_active()) {
    LoadOptions teacher_load;
    teacher_load.mode = SwiftKVMode::kOff;
    teacher = load_model(o.model, teacher_load);
  }
  const Runtime runtime = make_runtime(o.runtime);
  const EvalResult result = evaluate_model(*model, teacher.get(), tokenizer, runtime.ctx, o.eval);
  nlohmann::json json = result.to_json();
  json["model"] = o.model;
  json["swiftkv"] = o.runtime.swiftkv;
  std::printf("%s\n", json.dump().c_str());
  if (!o.output.empty()) {
    write_file(o.output, json.dump(2) + "\n");
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalCommandOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Perplexity and teacher agreement on held-out data");
  cmd->add_option("--model", o->model, "Checkpoint directory")->required();
  cmd->add_option("--data", o->eval.data, "Held-out data (.txt paragraphs or .jsonl)")->required();
  cmd->add_option("--teacher", o->teacher,
                  "Teacher checkpoint (default: the model with --swiftkv off, if SwiftKV)");
  cmd->add_option("--max-documents", o->eval.max_documents, "Documents to score (0 = all)");
  cmd->add_option("--max-length", o->eval.max_length, "Tokens per document at most");
  cmd->add_option("--greedy-prompts", o->eval.num_greedy, "Documents for the greedy match")
      ->capture_default_str();
  cmd->add_option("--greedy-prompt-tokens", o->eval.prompt_tokens, "Prompt tokens per document")
      ->capture_default_str();
  cmd->add_option("--greedy-tokens", o->eval.greedy_tokens, "Tokens to decode greedily")
      ->capture_default_str();
  cmd->add_option("--output", o->output, "Also write the JSON result here");
  add_runtime_options(*cmd, o->runtime);
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace swiftkv::cli
