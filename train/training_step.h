// One training step of each kind, chosen once per run (Trainer::run): plain (forward, loss,
// backward, SGD), data-parallel (the same with gradients averaged over the ranks while backward
// runs) and graph-replayed (the CUDA backend, one process: the whole step as one CUDA graph).
// Each step reports the loss that decides divergence; a step whose deciding loss is not finite
// leaves the weights alone where its kind allows it (plain, data-parallel), so nothing after the
// divergence is saved.
#pragma once
#include <memory>

#include "core/gradient_sync.h"
#include "core/network.h"
#include "train/optimizer.h"

namespace dasnet {

struct StepResult {
  LossTotals totals;       // this process's batch
  double deciding_loss = 0;  // this batch's loss sum, or the sum over every rank's batch
};

class TrainingStep {
 public:
  virtual ~TrainingStep() = default;
  virtual StepResult run(const float* images, const int* labels, int n, float lr) = 0;
  // Steps that ran as a replayed CUDA graph so far.
  virtual long graph_replays() const { return 0; }
};

// The step for this run: data-parallel when `sync` is given (it sets the network's gradient and,
// with `sync_batchnorm`, channel-statistics hooks for as long as the step lives, and starts every
// rank from rank 0's weights and optimizer state); else graph-replayed when `cuda_graphs` and the
// backend can; else plain.
std::unique_ptr<TrainingStep> make_training_step(Network& net, Sgd& sgd, OutputMode mode, GradientSync* sync,
                                                 bool sync_batchnorm, bool cuda_graphs);

}  // namespace dasnet
