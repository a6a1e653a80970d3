// dasnet train as one call: resume or start, build the model, train epoch by epoch (alone or
// data-parallel over a communicator), and after each epoch print the metrics, the reference
// images' P(usable), append the metrics JSON line and write the checkpoint. Only rank 0 prints
// and writes. The flags that say where images and the backend come from stay with the command
// (tools/run_options.h): the job receives them as factories.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/data_source.h"
#include "core/usage_error.h"
#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "kernels/backend_factory.h"
#include "train/trainer.h"

namespace dasnet {

struct TrainingJob {
  ModelConfig model;  // from the flags; a resumed run takes the checkpoint's
  TrainConfig train;
  std::string schedule = "constant";  // fresh runs (a resumed run keeps the checkpoint's)
  bool epochs_given = false;          // resuming: train.epochs replaces the checkpoint's
  std::string lr_scaling;             // "none" or "linear"; empty: "none", or the checkpoint's when resuming
  std::string metrics_path, checkpoint_dir, resume_path, reference_path;
  bool recompute = true, sync_batchnorm = false;
  DataParallelOptions sync;
  std::function<std::unique_ptr<Backend>()> make_backend;
  // "train" or "val"; the model config shapes the synthetic set.
  std::function<std::unique_ptr<DataSource>(const std::string& split, const ModelConfig&)> open_data;
  std::string data_description;
  std::string data_path;  // the data set file; empty for the synthetic set
  bool data_fixes_shape = false;  // a data set file (not the synthetic set): its images set the input shape
  // Rank 0, after each epoch's line, metrics line and checkpoint (the Python module's callback);
  // what it throws ends the training.
  std::function<void(const EpochMetrics&)> on_epoch;
};

// Trains on this process, or as one rank of `comm`; a rank that fails ends every rank's job.
// Throws UsageError for bad requests, std::runtime_error for bad files and divergence.
void run_training_job(TrainingJob job, Communicator& comm);

}  // namespace dasnet
