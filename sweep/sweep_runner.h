// Runs the trials of a ledger: claims waiting trials, starts each as a `dasnet train` child,
// ingests its per-epoch metrics as they appear (with a heartbeat), applies the early-stopping
// rule, and records how each attempt ended. Any number of drivers and workers may share a ledger.
#pragma once
#include <string>
#include <vector>

#include "sweep/ledger.h"
#include "sweep/sweep_spec.h"

namespace dasnet {

struct SweepRunOptions {
  int parallel = 1;           // trials at once in this process
  int threads = -1;           // per trial; -1: the spec's (0 there = cores / parallel)
  int retries = -1;           // -1: the spec's
  int gpus = 0;               // > 0: child i gets CUDA_VISIBLE_DEVICES = slot mod gpus
  double progress_timeout_epochs = -1;  // -1: the spec's run.progress_timeout_epochs
  bool progress = true;       // live progress line on stderr
  double poll_interval_s = 0.2;
  std::string dasnet_binary;  // default: this executable
  std::string run_dir_root;   // default: <ledger>.runs
};

struct SweepRunSummary {
  StateCounts counts;
  int attempts_started = 0;
  long epochs_planned = 0, epochs_pruned = 0;  // pruned = planned epochs never trained
  bool interrupted = false;
};

// The `dasnet train` command of one trial (tests and the Slurm script show it).
std::vector<std::string> trial_command(const SweepSpec& spec, const TrialConfig& trial, const std::string& binary,
                                       const std::string& run_dir, int threads, const std::string& resume_checkpoint);

// Stores the spec (text and directory) in the ledger so workers need only the ledger.
void store_spec(Ledger& ledger, const std::string& spec_path);
SweepSpec spec_from_ledger(const LedgerAccess& ledger);  // throws naming the ledger when it holds none

// Runs until no trial waits and this process's trials have ended (or SIGINT/SIGTERM).
SweepRunSummary run_sweep(LedgerAccess& ledger, const SweepSpec& spec, const SweepRunOptions& options);

// Epochs saved by pruning over the ledger: sum over pruned trials of (planned - trained).
void pruning_savings(const LedgerAccess& ledger, long* epochs_planned, long* epochs_pruned);

}  // namespace dasnet
