// Sweep specifications (TOML): the values or ranges of each dimension of the study's space, the
// data each trial trains on, how trials run, and the optional early-stopping rule. Example files
// are in sweep/examples/; sweep/README.md documents every key. Parse errors name the file, the
// line and the key.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/usage_error.h"
#include "sweep/trial_config.h"

namespace dasnet {

// The values one dimension takes: a list, or a continuous range (random sampling only).
struct DimensionValues {
  std::vector<double> numbers;     // numeric dimensions
  std::vector<std::string> words;  // processor, block
  bool continuous = false;         // {min, max} without step/count
  bool log_scale = false;
  double min = 0, max = 0;
  size_t size() const { return words.empty() ? numbers.size() : words.size(); }
};

struct DataFileEntry {
  int images_per_class = 0;
  int channels = 1;
  std::string path;  // absolute
};

enum class PruningRule { none, median, halving };
const char* pruning_rule_name(PruningRule rule);

struct EarlyStoppingSpec {
  PruningRule rule = PruningRule::none;
  std::vector<int> at_epochs;  // rungs: decide after these epochs
  int min_trials = 3;          // trials that must have reached a rung before anyone is pruned there
  int reduction_factor = 3;    // halving: keep the top 1/factor at each rung
};

struct SweepSpec {
  std::string source;    // spec file, for messages
  std::string base_dir;  // relative paths in the spec resolve against it
  std::string name = "sweep";
  bool random = false;   // sampling: grid (default) or random
  int random_trials = 0;
  uint64_t sampling_seed = 0;
  std::map<std::string, DimensionValues> space;  // keys of trial_dimensions()

  // [data]
  bool synthetic = true;
  int image_height = 200, image_width = 200;
  uint64_t synthetic_seed = 1;
  std::vector<DataFileEntry> files;
  std::string reference;  // absolute path of a reference set file, or empty

  // [run]
  int threads = 0;                  // per trial; 0 = cores / parallel trials
  int retries = 1;                  // failed trials run again up to this many times
  double heartbeat_timeout_s = 300; // a running trial silent this long is given back
  // A trial whose dasnet train writes no metrics line for progress_timeout_epochs x its typical
  // epoch time (the median of its epochs, at least progress_timeout_floor_s, which also stands in
  // before its first epoch) is killed and retried. 0 epochs: never.
  double progress_timeout_epochs = 5;
  double progress_timeout_floor_s = 120;
  bool checkpoints = true;          // keep one checkpoint per epoch
  std::string launcher;             // for ranks > 1, e.g. "mpirun -np {ranks}"
  std::vector<std::string> extra_args;  // appended to every dasnet train command

  EarlyStoppingSpec early_stopping;

  // Data set file for a trial; empty for the synthetic set. Throws naming data.files if missing.
  std::string data_file_for(const TrialConfig& trial) const;
};

struct ExpandedTrials {
  std::vector<TrialConfig> trials;
  int dropped_invalid = 0;  // combinations with a depth the block type cannot build
};

SweepSpec parse_sweep_spec(const std::string& text, const std::string& source, const std::string& base_dir);
SweepSpec load_sweep_spec(const std::string& path);  // throws UsageError naming the file
// Grid: the cartesian product; random: random_trials draws (duplicates drawn again).
ExpandedTrials expand_trials(const SweepSpec& spec);

}  // namespace dasnet
