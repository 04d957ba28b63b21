// The distillation trainer: data, model, optimizer, loop, held-out evaluation, checkpoints.
#include "train/distill.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/logging.h"
#include "core/mapped_file.h"
#include "model/convert.h"
#include "model/loader.h"
#include "model/weight_store.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/dataset.h"
#include "train/distill_loss.h"
#include "train/distill_step.h"
#include "train/response_generation.h"
#include "train/torch_llama.h"
#include "train/training_log.h"

namespace swiftkv {
namespace {

namespace fs = std::filesystem;

// Hugging Face get_linear_schedule_with_warmup: lr(step) for the step about to be taken.
double scheduled_lr(double peak, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) {
    return peak * static_cast<double>(step) /
           static_cast<double>(std::max<int64_t>(warmup_steps, 1));
  }
  return peak *
         std::max(0.0, static_cast<double>(total_steps - step) /
                           static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1)));
}

TorchBatch make_batch(const std::vector<PackedRow>& rows, const torch::Device& device,
                      torch::Tensor* loss_mask, torch::Tensor* valid) {
  const auto n = static_cast<int64_t>(rows.size());
  const auto seq = static_cast<int64_t>(rows.front().tokens.size());
  torch::Tensor tokens = torch::empty({n, seq}, torch::kInt64);
  torch::Tensor positions = torch::empty({n, seq}, torch::kInt64);
  torch::Tensor segments = torch::empty({n, seq}, torch::kInt64);
  torch::Tensor mask = torch::empty({n, seq}, torch::kInt64);
  auto t = tokens.accessor<int64_t, 2>();
  auto p = positions.accessor<int64_t, 2>();
  auto s = segments.accessor<int64_t, 2>();
  auto m = mask.accessor<int64_t, 2>();
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < seq; ++i) {
      t[r][i] = rows[r].tokens[i];
      p[r][i] = rows[r].positions[i];
      s[r][i] = rows[r].segments[i];
      m[r][i] = rows[r].loss_mask[i];
    }
  }
  TorchBatch batch{tokens.to(device), positions.to(device), segments.to(device)};
  *loss_mask = mask.to(device);
  *valid = batch.segments >= 0;
  return batch;
}

struct HeldOutMetrics {
  double kl = 0.0;    // KL(teacher || student) at T = 1, mean over response positions
  double top1 = 0.0;  // argmax agreement over response positions
  double loss = 0.0;  // the training objective over the whole held-out set
};

// Held-out metrics over `rows`, in chunks of `chunk_rows` rows; chunk c runs on rank
// c % num_ranks and the ranks' sums are all-reduced, so every rank gets the same result.
HeldOutMetrics evaluate_held_out(const TorchLlama& model, const std::vector<PackedRow>& rows,
                                 int64_t chunk_rows, const DistillLossOptions& loss_options,
                                 DataParallelRank& rank) {
  const torch::NoGradGuard no_grad;
  const torch::Device device = model.options().device;
  // The loss's denominators over the whole set, so the chunks' losses add up to it.
  double num_positions = 0.0;
  double num_tokens = 0.0;
  for (const PackedRow& row : rows) {
    num_positions += static_cast<double>(std::count(row.loss_mask.begin(), row.loss_mask.end(), 1));
    num_tokens += static_cast<double>(row.num_tokens);
  }
  const torch::Tensor counts =
      torch::tensor({num_positions, num_tokens}, torch::kFloat64).to(device);
  // [3] f64: sum of KL at T = 1, agreements, loss share.
  torch::Tensor sums = torch::zeros({3}, torch::TensorOptions(torch::kFloat64).device(device));
  const auto num_chunks = static_cast<int64_t>((rows.size() + chunk_rows - 1) / chunk_rows);
  for (int64_t chunk = rank.rank(); chunk < num_chunks; chunk += rank.num_ranks()) {
    const auto begin = rows.begin() + chunk * chunk_rows;
    const std::vector<PackedRow> part(begin,
                                      begin + std::min<int64_t>(chunk_rows, rows.end() - begin));
    torch::Tensor mask, valid;
    const TorchBatch batch = make_batch(part, device, &mask, &valid);
    const TorchForward teacher = model.teacher_forward(batch);
    const TorchForward student = model.student_forward(batch, teacher.swiftkv_input);
    const torch::Tensor m = mask.to(torch::kFloat64);
    const torch::Tensor kl_sum =
        (kl_per_position(student.logits, teacher.logits).to(torch::kFloat64) * m).sum();
    const torch::Tensor agree =
        ((student.logits.argmax(-1) == teacher.logits.argmax(-1)).to(torch::kFloat64) * m).sum();
    const torch::Tensor loss =
        distill_loss(student.logits, teacher.logits, student.last_layer_input,
                     teacher.last_layer_input, mask, valid, loss_options, counts)
            .total.to(torch::kFloat64);
    sums += torch::stack({kl_sum, agree, loss});
  }
  rank.all_reduce_sum(sums);
  const torch::Tensor host = sums.cpu();
  HeldOutMetrics out;
  out.kl = host[0].item<double>() / std::max(num_positions, 1.0);
  out.top1 = host[1].item<double>() / std::max(num_positions, 1.0);
  out.loss = host[2].item<double>();
  return out;
}

struct TrainerState {
  int64_t step = 0;   // optimizer steps taken
  int64_t epoch = 0;  // current epoch
  int64_t row = 0;    // rows of the current epoch already consumed
};

void save_trainer_state(const std::string& dir, const TrainerState& state, int64_t total_steps,
                        const TorchLlama& model, torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, param] : model.trainable()) {
    archive.write("param/" + name, param.detach().cpu());
  }
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.save_to((fs::path(dir) / "trainer_state.pt").string());
  const nlohmann::json json = {{"step", state.step},
                               {"epoch", state.epoch},
                               {"row", state.row},
                               {"total_steps", total_steps}};
  write_file((fs::path(dir) / "trainer_state.json").string(), json.dump(2) + "\n");
}

TrainerState load_trainer_state(const std::string& dir, const TorchLlama& model,
                                torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive;
  archive.load_from((fs::path(dir) / "trainer_state.pt").string());
  {
    const torch::NoGradGuard no_grad;
    for (const auto& [name, param] : model.trainable()) {
      torch::Tensor saved;
      archive.read("param/" + name, saved);
      param.copy_(saved);
    }
  }
  torch::serialize::InputArchive optimizer_archive;
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  const auto json =
      nlohmann::json::parse(read_file((fs::path(dir) / "trainer_state.json").string()));
  return TrainerState{json.at("step").get<int64_t>(), json.at("epoch").get<int64_t>(),
                      json.at("row").get<int64_t>()};
}

// The newest `checkpoint-<step>` directory of `output` with a complete trainer state.
std::optional<std::string> latest_checkpoint(const std::string& output) {
  std::optional<std::string> best;
  int64_t best_step = -1;
  if (!fs::is_directory(output)) {
    return best;
  }
  for (const auto& entry : fs::directory_iterator(output)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || !fs::exists(entry.path() / "trainer_state.json") ||
        !fs::exists(entry.path() / "config.json")) {
      continue;
    }
    const int64_t step = std::stoll(name.substr(11));
    if (step > best_step) {
      best_step = step;
      best = entry.path().string();
    }
  }
  return best;
}

std::vector<TokenizedDocument> tokenize_all(const std::vector<RawDocument>& docs,
                                            const Tokenizer& tokenizer) {
  std::vector<TokenizedDocument> out;
  out.reserve(docs.size());
  for (const RawDocument& doc : docs) {
    out.push_back(tokenize_document(doc, tokenizer));
  }
  return out;
}

// Reads the data files; prompt-only documents get teacher responses (or are an error).
std::vector<RawDocument> load_training_documents(const DistillOptions& options,
                                                 const Tokenizer& tokenizer) {
  std::vector<RawDocument> docs;
  bool needs_responses = false;
  for (const std::string& path : options.data) {
    std::vector<RawDocument> file_docs = read_documents(path);
    for (RawDocument& doc : file_docs) {
      needs_responses = needs_responses || doc.needs_response();
      docs.push_back(std::move(doc));
    }
  }
  if (needs_responses) {
    if (!options.generate_responses) {
      throw Error(
          "the data has prompt-only documents: pass --generate-responses to have the "
          "teacher write the responses");
    }
    LoadOptions load;
    load.mode = SwiftKVMode::kOff;
    const auto teacher = load_model(options.model, load);
    ResponseGenerationOptions gen;
    gen.max_tokens = options.response_max_tokens;
    gen.temperature = options.response_temperature;
    gen.top_p = options.response_top_p;
    gen.seed = options.seed;
    gen.threads = options.threads;
    generate_responses(*teacher, tokenizer, docs, gen);
    const std::string path = options.responses_output.empty()
                                 ? (fs::path(options.output) / "responses.jsonl").string()
                                 : options.responses_output;
    std::vector<RawDocument> generated;
    for (const RawDocument& doc : docs) {
      if (doc.kind != RawDocument::Kind::kText) {
        generated.push_back(doc);
      }
    }
    write_documents_jsonl(path, generated);
    log_info("wrote ", generated.size(), " teacher responses to ", path);
  }
  return docs;
}

// What every rank reads: built once on the host before the ranks start.
struct TrainingSetup {
  const DistillOptions& options;
  ModelConfig config;  // the student's (SwiftKV) config
  const WeightStore& store;
  const ModelWeights& base;
  NamedTensors init;  // initial SwiftKV parameters
  std::vector<PackedRow> rows;
  std::vector<PackedRow> held_out_rows;
  int64_t total_steps = 0;
  int64_t warmup_steps = 0;
};

// One rank's training loop (all of it on rank 0's thread when nproc = 1). Collectives (the
// step's all-reduces, evaluate_held_out, the barrier after a save) come in the same order on
// every rank because every rank runs the same schedule over the same global batches.
DistillResult train_rank(const TrainingSetup& setup, DataParallelRank& rank) {
  const DistillOptions& options = setup.options;
  const bool main = rank.is_main();
  std::string precision;
  const TorchLlamaOptions model_options = make_torch_llama_options(
      rank.device().str(), options.precision, options.checkpointing, &precision);
  TorchLlama model(setup.config, setup.base, setup.init, model_options);
  if (main) {
    int64_t num_trainable = 0;
    for (const torch::Tensor& p : model.trainable_parameters()) {
      num_trainable += p.numel();
    }
    log_info("distill: l = ", setup.config.num_key_value_layers, " of ",
             setup.config.num_hidden_layers, " layers, G = ", setup.config.key_value_group_size,
             ", ", num_trainable, " trainable parameters, device ", options.device, " x ",
             rank.num_ranks(), " (", rank.backend(), "), precision ", precision, ", checkpointing ",
             model_options.checkpoint_later_layers ? "on" : "off");
  }

  // --- optimizer and resume -----------------------------------------------------------------
  const std::unique_ptr<torch::optim::AdamW> adamw =
      make_adamw(model, options.learning_rate, options.weight_decay);
  torch::optim::AdamW& optimizer = *adamw;
  TrainerState state;
  bool resumed = false;
  if (options.resume) {
    if (const auto dir = latest_checkpoint(options.output)) {
      state = load_trainer_state(*dir, model, optimizer);
      resumed = true;
      if (main) {
        log_info("resumed from ", *dir, " at step ", state.step);
      }
    } else if (main) {
      log_warning("--resume: no checkpoint-<step> in ", options.output, "; starting fresh");
    }
  }
  broadcast_trainable_parameters(model, rank);  // identical already; DDP's guard against drift
  const DistillLossOptions loss_options{options.temperature, options.kl_weight,
                                        options.hidden_weight};
  const int64_t rank_rows = options.batch_size / rank.num_ranks();
  std::optional<MetricsLog> metrics;
  if (main) {
    metrics.emplace((fs::path(options.output) / "metrics.jsonl").string(), resumed);
  }
  auto run_eval = [&](int64_t step) {
    const HeldOutMetrics m =
        evaluate_held_out(model, setup.held_out_rows, rank_rows, loss_options, rank);
    if (main) {
      metrics->write(nlohmann::json{
          {"step", step},
          {"held_out_kl", m.kl},
          {"held_out_top1", m.top1},
          {"held_out_loss",
           m.loss}}.dump());
    }
    return m;
  };
  // The held-out evaluation that opens and closes a run: logged, and its KL and top-1 kept.
  const auto evaluate_and_log = [&](double& kl, double& top1) {
    if (setup.held_out_rows.empty()) {
      return;
    }
    const HeldOutMetrics m = run_eval(state.step);
    kl = m.kl;
    top1 = m.top1;
    if (main) {
      log_info("held-out at step ", state.step, ": KL ", m.kl, ", top-1 agreement ", m.top1);
    }
  };
  DistillResult result;
  evaluate_and_log(result.initial_held_out_kl, result.initial_top1);
  // Rank 0 writes; the others wait on the host (not in a device collective, whose timeout a
  // long save of a large model could exceed).
  auto save = [&](const std::string& dir, bool with_state) {
    if (main) {
      save_swiftkv_checkpoint(dir, setup.config, setup.store, model.trainable_tensors(DType::kF32),
                              options.model);
      if (with_state) {
        save_trainer_state(dir, state, setup.total_steps, model, optimizer);
      }
    }
    rank.barrier();
  };

  // --- loop --------------------------------------------------------------------------------
  const auto num_rows = static_cast<int64_t>(setup.rows.size());
  ProgressBar progress(setup.total_steps, options.progress && main);
  std::vector<int64_t> order = shuffled_indices(num_rows, options.seed + 1 + state.epoch);
  while (state.step < setup.total_steps) {
    if (state.row >= num_rows) {
      ++state.epoch;
      state.row = 0;
      order = shuffled_indices(num_rows, options.seed + 1 + state.epoch);
    }
    const auto step_start = std::chrono::steady_clock::now();
    // The global batch: rows [state.row, end) of the epoch's order; this rank's slice of it.
    const int64_t end = std::min(num_rows, state.row + options.batch_size);
    const int64_t first = std::min(end, state.row + rank.rank() * rank_rows);
    const int64_t last = std::min(end, first + rank_rows);
    int64_t batch_tokens = 0;  // global
    std::vector<PackedRow> rows;
    for (int64_t i = state.row; i < end; ++i) {
      batch_tokens += setup.rows[order[i]].num_tokens;
      if (i >= first && i < last) {
        rows.push_back(setup.rows[order[i]]);
      }
    }
    state.row = end;
    const double lr =
        scheduled_lr(options.learning_rate, state.step, setup.warmup_steps, setup.total_steps);
    set_learning_rate(optimizer, lr);
    torch::Tensor mask, valid;
    TorchBatch batch;  // empty: this rank has no rows of a partial last batch
    if (!rows.empty()) {
      batch = make_batch(rows, model_options.device, &mask, &valid);
    }
    const DistillStepResult step = distill_step(model, batch, mask, valid, loss_options,
                                                options.max_grad_norm, optimizer, &rank);
    ++state.step;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    const double tokens_per_second = static_cast<double>(batch_tokens) / std::max(seconds, 1e-9);
    if (main) {
      metrics->write(nlohmann::json{{"step", state.step},
                                    {"epoch", state.epoch},
                                    {"loss", step.loss},
                                    {"kl", step.kl},
                                    {"hidden_mse", step.hidden_mse},
                                    {"lr", lr},
                                    {"grad_norm", step.grad_norm},
                                    {"tokens", batch_tokens},
                                    {"tokens_per_s", tokens_per_second}}
                         .dump());
    }
    progress.update(state.step, step.loss, lr, tokens_per_second);
    if (options.eval_every > 0 && state.step % options.eval_every == 0 &&
        state.step < setup.total_steps && !setup.held_out_rows.empty()) {
      run_eval(state.step);
    }
    if (options.save_every > 0 && state.step % options.save_every == 0 &&
        state.step < setup.total_steps) {
      save((fs::path(options.output) / ("checkpoint-" + std::to_string(state.step))).string(),
           true);
    }
  }
  progress.finish();

  // --- final -------------------------------------------------------------------------------
  evaluate_and_log(result.final_held_out_kl, result.final_top1);
  save(options.output, false);
  if (options.save_every > 0) {
    save((fs::path(options.output) / ("checkpoint-" + std::to_string(state.step))).string(), true);
  }
  if (main) {
    metrics.reset();  // flushed and closed before the plot reads it
    write_loss_curve((fs::path(options.output) / "metrics.jsonl").string(),
                     (fs::path(options.output) / "loss_curve.svg").string());
  }
  result.steps = state.step;
  return result;
}

}  // namespace

DistillResult run_distill(const DistillOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.data.empty()) {
    throw Error("--data: at least one training data file is required");
  }
  if (options.batch_size < 1 || options.max_length < 2) {
    throw Error("--batch-size must be >= 1 and --max-length >= 2");
  }
  const DataParallelOptions parallel{options.nproc, options.device, options.threads};
  check_data_parallel(parallel);
  if (options.batch_size % options.nproc != 0) {
    throw Error(str_cat("--batch-size ", options.batch_size, " is the global batch: it must be a ",
                        "multiple of --nproc ", options.nproc,
                        " (each rank takes an equal share)"));
  }
  fs::create_directories(options.output);
  torch::manual_seed(static_cast<uint64_t>(options.seed));

  // --- model -------------------------------------------------------------------------------
  const ModelConfig input_config = ModelConfig::load(options.model);
  const WeightStore store = WeightStore::open(options.model);
  const Tokenizer tokenizer = Tokenizer::load(options.model);
  ModelConfig config = input_config;
  const bool input_is_swiftkv = input_config.architecture == Architecture::kLlamaSwiftKV;
  if (input_is_swiftkv) {
    if ((options.num_kv_layers >= 0 && options.num_kv_layers != config.num_key_value_layers) ||
        (options.group_size > 0 && options.group_size != config.key_value_group_size)) {
      throw Error(str_cat("--num-kv-layers/--group-size: ", options.model,
                          " is already a SwiftKV checkpoint with num_key_value_layers ",
                          config.num_key_value_layers, ", key_value_group_size ",
                          config.key_value_group_size));
    }
  } else {
    config.architecture = Architecture::kLlamaSwiftKV;
    config.num_key_value_layers =
        options.num_kv_layers >= 0 ? options.num_kv_layers : config.num_hidden_layers / 2;
    config.key_value_group_size = options.group_size > 0 ? options.group_size : 1;
  }
  config.swiftkv = true;
  config.validate("--num-kv-layers/--group-size");
  ModelConfig base_config = config;  // the teacher's tensors, read as a SwiftKV or plain model
  if (!input_is_swiftkv) {
    base_config = input_config;
  }
  const ModelWeights base = ModelWeights::from_store(base_config, store);
  TrainingSetup setup{options, config, store, base, {}, {}, {}, 0, 0};
  if (input_is_swiftkv) {
    for (const std::string& name : store.names()) {
      if (is_swiftkv_tensor_name(name)) {
        setup.init.emplace_back(name, store.get(name));
      }
    }
  } else {
    setup.init = init_swiftkv_tensors(config, base, DType::kF32);
  }
  make_torch_llama_options(rank_device(options.device, 0).str(), options.precision,
                           options.checkpointing);  // bad values fail before the data work

  // --- data --------------------------------------------------------------------------------
  std::vector<TokenizedDocument> train_docs;
  std::vector<TokenizedDocument> held_out_docs;
  {
    std::vector<TokenizedDocument> docs =
        tokenize_all(load_training_documents(options, tokenizer), tokenizer);
    if (options.eval_data.empty()) {
      DatasetSplit split =
          split_documents(std::move(docs), options.held_out_fraction, options.seed);
      train_docs = std::move(split.train);
      held_out_docs = std::move(split.held_out);
    } else {
      DatasetSplit split = split_documents(std::move(docs), 0.0, options.seed);
      train_docs = std::move(split.train);
      held_out_docs = tokenize_all(read_documents(options.eval_data), tokenizer);
    }
  }
  setup.rows = pack_documents(train_docs, options.max_length);
  setup.held_out_rows = pack_documents(held_out_docs, options.max_length);
  if (setup.rows.empty()) {
    throw Error("--data: no training tokens");
  }
  const auto num_rows = static_cast<int64_t>(setup.rows.size());
  const int64_t steps_per_epoch = (num_rows + options.batch_size - 1) / options.batch_size;
  setup.total_steps =
      options.max_steps > 0 ? options.max_steps : steps_per_epoch * options.num_epochs;
  setup.warmup_steps = static_cast<int64_t>(
      std::ceil(options.warmup_ratio * static_cast<double>(setup.total_steps)));
  int64_t num_train_tokens = 0;
  for (const PackedRow& row : setup.rows) {
    num_train_tokens += row.num_tokens;
  }
  log_info("data: ", train_docs.size(), " documents, ", num_train_tokens, " tokens in ", num_rows,
           " rows of ", options.max_length, "; held out: ", held_out_docs.size(), " documents in ",
           setup.held_out_rows.size(), " rows; ", setup.total_steps, " steps (", setup.warmup_steps,
           " warm-up) of ", options.batch_size, " rows over ", options.nproc, " rank(s)");

  DistillResult result;
  run_data_parallel(parallel, [&](DataParallelRank& rank) {
    DistillResult rank_result = train_rank(setup, rank);
    if (rank.is_main()) {
      result = rank_result;
    }
  });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_info("distill: ", result.steps, " steps in ", format_duration(result.seconds), "; wrote ",
           options.output);
  return result;
}

}  // namespace swiftkv
