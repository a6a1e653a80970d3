// Subcommands of the dasnet command. Each add_*_command registers its flags and callback;
// callbacks throw UsageError (exit 2) or std::runtime_error (exit 1) with a message that names
// the flag, field or file at fault.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include "core/usage_error.h"

namespace dasnet {

struct EpochMetrics;

// on_epoch: called after every epoch (train/training_job.h TrainingJob::on_epoch), for the
// Python module's dasnet.train callback.
void add_train_command(CLI::App& app, std::function<void(const EpochMetrics&)> on_epoch = {});
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_label_command(CLI::App& app);
void add_dataset_command(CLI::App& app);
void add_bench_command(CLI::App& app);  // bench scaling (tools/cmd_bench_scaling.cpp)
void add_sweep_command(CLI::App& app);
void add_select_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_infer_command(CLI::App& app);
void add_export_command(CLI::App& app);  // export and import (tools/cmd_export.cpp)
void add_import_command(CLI::App& app);

}  // namespace dasnet
