#include "sweep/pruning.h"

#include <algorithm>
#include <cstdio>

namespace dasnet {

bool is_rung(const EarlyStoppingSpec& spec, int epoch) {
  return spec.rule != PruningRule::none &&
         std::find(spec.at_epochs.begin(), spec.at_epochs.end(), epoch) != spec.at_epochs.end();
}

PruneDecision decide_pruning(const EarlyStoppingSpec& spec, int epoch, double val_accuracy,
                             const std::vector<double>& others) {
  PruneDecision d;
  if (!is_rung(spec, epoch) || int(others.size()) < spec.min_trials) return d;
  char text[200];
  if (spec.rule == PruningRule::median) {
    std::vector<double> v = others;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    if (val_accuracy < median) {
      std::snprintf(text, sizeof text, "pruned at epoch %d: val accuracy %.4f below the median %.4f of %zu trials",
                    epoch, val_accuracy, median, n);
      d = {true, text};
    }
    return d;
  }
  // Successive halving: rank among everyone at the rung (ties favour this trial).
  const size_t total = others.size() + 1;
  const size_t keep = std::max<size_t>(1, total / size_t(spec.reduction_factor));
  const size_t better = size_t(std::count_if(others.begin(), others.end(), [&](double a) { return a > val_accuracy; }));
  if (better >= keep) {
    std::snprintf(text, sizeof text, "pruned at epoch %d: val accuracy %.4f ranks %zu of %zu (keeping the top %zu)",
                  epoch, val_accuracy, better + 1, total, keep);
    d = {true, text};
  }
  return d;
}

}  // namespace dasnet
