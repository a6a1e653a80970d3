// Precise batchnorm statistics (Wu & Johnson, "Rethinking Batch in BatchNorm", 2021; Detectron2's
// and pycls' PreciseBN): before an evaluation, the running mean and variance of every batchnorm
// layer are recomputed with the current weights over a number of training batches, instead of
// lagging the model by the momentum's memory (dozens of steps, plus the initial values early on).
#pragma once
#include <string>

#include "core/network.h"
#include "io/loader.h"

namespace dasnet {

class GradientSync;

// Runs `batches` training-mode forward passes (no backward, no update) over the first batches of
// `epoch`'s order and leaves in each batchnorm layer the average of their batch statistics: the
// mean of the batch means and the mean of the (unbiased) batch variances, as fvcore's
// update_bn_stats does (it leaves out the spread of the batch means, 1/batch of the variance for
// batches drawn alike). Batch k is folded in with momentum 1/(k+1), so nothing of the previous
// statistics remains. Data parallel (sync non-null): each rank over its shard, then the
// statistics averaged over the ranks (with synchronized batchnorm they are equal already).
// Returns the number of batches used (fewer when the epoch has fewer).
int recalibrate_batchnorm(Network& net, const DataSource& train, const LoaderOptions& options, int epoch,
                          int batches, GradientSync* sync);

// With the momentum's running statistics (no recalibration): after `steps` training steps with
// batchnorm momentum `momentum`, a share (1 - momentum)^steps of each running variance is still
// its initial 1. Returns a warning in words when that share is more than half of the running
// variance in at least a quarter of the channels (the evaluation then uses mostly the initial
// statistics), else an empty string.
std::string initial_statistics_warning(const Network& net, long steps, double momentum);

}  // namespace dasnet
