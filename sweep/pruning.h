// Early stopping of sweep trials on validation accuracy at chosen epochs ("rungs"):
// - median rule: stop a trial whose accuracy is below the median of the other trials' accuracy
//   at the same epoch (Optuna's MedianPruner);
// - successive halving (asynchronous): keep a trial only while it ranks in the top 1/factor of
//   all trials that reached the rung so far.
// Nobody is pruned at a rung until min_trials other trials have reported there.
#pragma once
#include <string>
#include <vector>

#include "sweep/sweep_spec.h"

namespace dasnet {

struct PruneDecision {
  bool prune = false;
  std::string reason;  // for the ledger's message
};

bool is_rung(const EarlyStoppingSpec& spec, int epoch);
PruneDecision decide_pruning(const EarlyStoppingSpec& spec, int epoch, double val_accuracy,
                             const std::vector<double>& others_at_epoch);

}  // namespace dasnet
