// Output activations and losses on host memory, shared by the CPU backends.
#pragma once
#include "core/backend.h"
#include "core/usage_error.h"

namespace dasnet {

// See Backend::loss. Throws UsageError for labels outside the mode's range.
LossTotals cpu_loss(OutputMode mode, const Tensor& logits, const int* labels, Tensor* dlogits,
                    Tensor* probabilities);

}  // namespace dasnet
