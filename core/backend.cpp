#include "core/backend.h"

#include <string>

#include "core/usage_error.h"

namespace dasnet {

void validate_labels(OutputMode mode, int n, int k, const int* labels) {
  if (mode == OutputMode::Sigmoid && k != 1) throw UsageError("sigmoid output needs exactly 1 output neuron");
  if (mode == OutputMode::Softmax && k < 2) throw UsageError("softmax output needs at least 2 output neurons");
  for (int i = 0; i < n; ++i) {
    const int label = labels[i];
    const bool bad = (mode == OutputMode::Softmax && (label < 0 || label >= k)) ||
                     (mode == OutputMode::Sigmoid && (label < 0 || label > 1)) ||
                     (mode == OutputMode::Multilabel && (label < 0 || (k < 31 && label >= (1 << k))));
    if (bad)
      throw UsageError("label " + std::to_string(label) + " of sample " + std::to_string(i) + " does not fit " +
                       std::to_string(k) + " output neuron(s)");
  }
}

}  // namespace dasnet
