// A Slurm job-array script whose tasks each run `dasnet sweep worker` on the shared ledger and
// pull trials until none waits (trials are claimed in ledger transactions, so any number of
// tasks can start, stop and be requeued).
#pragma once
#include <string>

#include "sweep/sweep_spec.h"

namespace dasnet {

struct SlurmOptions {
  int tasks = 4;               // array tasks (workers)
  int parallel_per_task = 1;   // trials at once per task
  int cpus_per_task = 0;       // 0: 8 per trial on CPU, 4 per GPU trial
  std::string time_limit = "24:00:00";
  std::string partition;       // empty: the cluster default
  std::string account;
  std::string journal = "wal";  // "delete" when tasks run on several nodes over a network file system
};

// Writes the script; the ledger must already hold the trials and the spec.
void write_slurm_script(const std::string& path, const SweepSpec& spec, const std::string& ledger_path,
                        const std::string& dasnet_binary, const SlurmOptions& options);

}  // namespace dasnet
