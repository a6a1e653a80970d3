#include "sweep/slurm_script.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

void write_slurm_script(const std::string& path, const SweepSpec& spec, const std::string& ledger_path,
                        const std::string& dasnet_binary, const SlurmOptions& o) {
  namespace fs = std::filesystem;
  if (o.tasks < 1) throw UsageError("--slurm-tasks must be >= 1, got " + std::to_string(o.tasks));
  int max_ranks = 1;
  bool gpu = false;
  if (auto it = spec.space.find("ranks"); it != spec.space.end())
    for (double r : it->second.numbers) max_ranks = std::max(max_ranks, int(r));
  if (auto it = spec.space.find("processor"); it != spec.space.end())
    gpu = std::find(it->second.words.begin(), it->second.words.end(), "gpu") != it->second.words.end();
  const int trials_at_once = o.parallel_per_task;
  const int cpus = o.cpus_per_task > 0 ? o.cpus_per_task : trials_at_once * (gpu ? 4 : 8);
  const std::string ledger = fs::absolute(ledger_path).string();
  const std::string logs = fs::absolute(ledger_path).string() + ".slurm";
  fs::create_directories(logs);

  std::ofstream out(path);
  if (!out) throw UsageError("--slurm " + path + ": cannot write");
  out << "#!/bin/bash\n"
      << "# dasnet sweep '" << spec.name << "': " << o.tasks << " array tasks pull trials from the ledger\n"
      << "#   " << ledger << "\n"
      << "# Submit: sbatch " << path << "   (resubmit after a time limit or crash: finished trials never rerun)\n"
      << "#SBATCH --job-name=dasnet-" << spec.name << "\n"
      << "#SBATCH --array=0-" << (o.tasks - 1) << "\n"
      << "#SBATCH --nodes=1\n"
      << "#SBATCH --ntasks=1\n"
      << "#SBATCH --cpus-per-task=" << cpus << "\n"
      << "#SBATCH --time=" << o.time_limit << "\n"
      << "#SBATCH --output=" << logs << "/task_%A_%a.log\n"
      << "#SBATCH --signal=TERM@120\n";
  if (gpu) out << "#SBATCH --gpus-per-task=" << max_ranks * trials_at_once << "\n";
  if (!o.partition.empty()) out << "#SBATCH --partition=" << o.partition << "\n";
  if (!o.account.empty()) out << "#SBATCH --account=" << o.account << "\n";
  out << "\nset -euo pipefail\n";
  if (o.journal == "wal")
    out << "# WAL journal: every task must run on the node that holds the ledger's file system lock\n"
        << "# (SQLite WAL needs shared memory). Across nodes, rerun with --slurm-journal delete.\n";
  // exec: Slurm's TERM at the time limit reaches the worker, which hands its trials back.
  out << "exec \"" << dasnet_binary << "\" sweep worker --ledger \"" << ledger << "\" --parallel " << trials_at_once
      << " --threads $(( SLURM_CPUS_PER_TASK / " << trials_at_once << " ))" << " --journal " << o.journal
      << (gpu ? " --gpus " + std::to_string(max_ranks * trials_at_once) : std::string()) << " --no-progress\n";
  out.close();
  chmod(path.c_str(), 0755);
}

}  // namespace dasnet
