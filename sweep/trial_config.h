// One point of the study's 9-dimensional hyperparameter space plus the seed: what a sweep trial
// trains. Stored in the ledger as canonical JSON (sorted keys), which is also the trial's identity.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dasnet {

struct TrialConfig {
  std::string processor = "cpu";  // cpu or gpu
  int ranks = 1;                  // processes (GPUs) per trial
  int images_per_class = 1000;    // data set size
  int channels = 1;               // 1 grayscale, 3 RGB
  int batch_size = 128;
  int depth = 14;
  std::string block = "basic";    // basic or bottleneck
  int bottleneck_width = 0;       // bottleneck blocks only; 0 = width / 4
  int outputs = 2;                // K
  int epochs = 40;
  double lr = 0.001;
  uint64_t seed = 0;

  std::string to_json() const;  // canonical: equal configs give equal text
  static TrialConfig from_json(const std::string& json);  // throws std::runtime_error naming the field
  // Short label for tables and plots, e.g. "d14 basic lr0.001 b128 n1000 c1 K2 cpu x1 s0".
  std::string label() const;
};

// The dimension names in the order plots and tables show them.
const std::vector<std::string>& trial_dimensions();

}  // namespace dasnet
