// Registration of the train-layer commands (`distill`, `eval`, `bench distill`), which exist only
// in builds with -DSWIFTKV_TRAIN=ON (libtorch); elsewhere this registers nothing.
#include "cli/commands.h"

namespace swiftkv::cli {

#ifdef SWIFTKV_TRAIN
void register_distill(CLI::App& app);
void register_eval(CLI::App& app);
void register_bench_distill(CLI::App& bench);
#endif

void register_train_commands([[maybe_unused]] CLI::App& app) {
#ifdef SWIFTKV_TRAIN
  register_distill(app);
  register_eval(app);
  // `bench` is registered before the train commands (main.cc).
  register_bench_distill(*app.get_subcommand("bench"));
#endif
}

}  // namespace swiftkv::cli
