// Training checkpoints in HDF5: parameters, batchnorm running statistics, optimizer state, the
// epoch, the shuffle seed and the full model/training configuration. Written atomically
// (io/durable_file.h): a crash or a full disk never leaves a half-written checkpoint.
#pragma once
#include <string>

#include "train/trainer.h"

namespace dasnet {

void save_checkpoint(const std::string& path, const TrainingState& state);
// Throws std::runtime_error naming the file: missing, not HDF5, truncated, or incomplete.
TrainingState load_checkpoint(const std::string& path);
// Where epoch `epoch` (1-based) of a run is checkpointed in `dir`: dir/epoch_NNNN.h5.
std::string checkpoint_path(const std::string& dir, int epoch);

// True when load_checkpoint(path) succeeds: what a sweep checks before resuming from a checkpoint
// or calling a trial complete.
bool checkpoint_is_readable(const std::string& path);

}  // namespace dasnet
