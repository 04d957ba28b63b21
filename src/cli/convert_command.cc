// `swiftkv convert`: llama2.c checkpoint + tokenizer -> Hugging Face directory, or a Llama
// checkpoint -> an (undistilled) SwiftKV checkpoint.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "core/dtype.h"
#include "core/error.h"
#include "model/convert.h"
#include "tokenizer/llama2c_converter.h"

namespace swiftkv::cli {
namespace {

struct ConvertOptions {
  std::string llama2c;
  std::string tokenizer;
  bool to_swiftkv = false;
  std::string input;
  std::string output;
  int64_t num_kv_layers = 0;
  int64_t group_size = 1;
  std::string dtype;
  bool overwrite = false;
};

void run_convert(const ConvertOptions& o) {
  if (o.to_swiftkv == !o.llama2c.empty()) {
    throw Error(
        "convert: give either --llama2c FILE --tokenizer FILE, or --to-swiftkv --input DIR");
  }
  if (o.to_swiftkv) {
    if (o.input.empty() || o.num_kv_layers <= 0) {
      throw Error("convert --to-swiftkv needs --input DIR and --num-kv-layers N (N >= 1)");
    }
    std::optional<DType> dtype;
    if (!o.dtype.empty()) {
      dtype = parse_dtype(o.dtype);
    }
    convert_to_swiftkv(o.input, o.output, o.num_kv_layers, o.group_size, dtype, o.overwrite);
    std::fprintf(stderr, "wrote SwiftKV checkpoint %s (num_key_value_layers=%lld, group=%lld)\n",
                 o.output.c_str(), static_cast<long long>(o.num_kv_layers),
                 static_cast<long long>(o.group_size));
    return;
  }
  if (o.tokenizer.empty()) {
    throw Error("convert --llama2c needs --tokenizer FILE (the llama2.c tokenizer .bin)");
  }
  convert_llama2c_model(o.llama2c, o.output, o.dtype.empty() ? DType::kF32 : parse_dtype(o.dtype),
                        o.overwrite);
  write_hf_tokenizer_files(o.tokenizer, o.output);
  std::fprintf(stderr, "wrote Hugging Face checkpoint %s\n", o.output.c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert checkpoints");
  cmd->add_option("--llama2c", o->llama2c, "llama2.c checkpoint (.bin) to import");
  cmd->add_option("--tokenizer", o->tokenizer, "llama2.c tokenizer (.bin) to import");
  cmd->add_flag("--to-swiftkv", o->to_swiftkv, "Add SwiftKV parameters to a Llama checkpoint");
  cmd->add_option("--input", o->input, "Input checkpoint directory (with --to-swiftkv)");
  cmd->add_option("--output", o->output, "Output directory")->required();
  cmd->add_option("--num-kv-layers", o->num_kv_layers,
                  "SwiftKV: layers [0, N) stay ordinary, later layers take K/V from layer N");
  cmd->add_option("--group-size", o->group_size, "SwiftKV AcrossKV group size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "Weight dtype to write: f32, bf16 or f16");
  cmd->add_flag("--overwrite", o->overwrite, "Replace a non-empty output directory");
  cmd->callback([o] { run_convert(*o); });
}

}  // namespace swiftkv::cli
