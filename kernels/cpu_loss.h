// Output activations and losses on host memory, shared by the CPU backends.
#pragma once
#include "engine/backend.h"

namespace dasnet {

// See Backend::loss. Throws UsageError for labels outside the mode's range.
LossTotals cpu_loss(OutputMode mode, const Tensor& logits, const int* labels, Tensor* dlogits,
                    Tensor* probabilities);

}  // namespace dasnet
