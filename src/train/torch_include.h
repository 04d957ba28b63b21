// The one place the train layer includes libtorch. Heavy to compile: include this header only
// from the few translation units that need torch types (the model, the loss, the trainer).
#pragma once

#include <torch/torch.h>
