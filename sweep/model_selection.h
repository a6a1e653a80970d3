// Model selection by reference probabilities (the study's Table 1): every (trial, epoch) whose
// P(usable) on each reference image lies in that image's expected range, ranked by the distance
// of its four probabilities to the centres of the ranges.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/usage_error.h"
#include "sweep/ledger.h"
#include "sweep/trial_config.h"

namespace dasnet {

struct ReferenceRange {
  std::string name;
  double min = 0, max = 1;
  double centre() const { return 0.5 * (min + max); }
  bool contains(double p) const { return p >= min && p <= max; }
};

// white_noise [0, 0.1], coherent_waves [0.9, 1], noncoherent_waves [0.7, 0.9], saturated [0.2, 0.3].
std::vector<ReferenceRange> study_reference_ranges();
// Replaces one range from "name=min:max" (a --range flag); throws UsageError naming the flag.
void apply_range_flag(std::vector<ReferenceRange>& ranges, const std::string& flag);

struct ModelCandidate {
  int64_t trial_id = 0;
  int epoch = 0;
  TrialConfig config;
  std::string state;          // the trial's state
  std::vector<double> p;      // per range, in the ranges' order (NaN where missing)
  int in_range = 0;           // how many of the probabilities lie in their range
  double distance = 0;        // Euclidean distance to the centres
  double val_accuracy = 0;
  std::string checkpoint;
  bool matches(size_t references) const { return in_range == int(references); }
};

// All (trial, epoch) rows with every reference probability, best first (matches, then distance).
std::vector<ModelCandidate> rank_models(const Ledger& ledger, const std::vector<ReferenceRange>& ranges);

// Table 1 layout: depth, lr, batch, epoch, the probabilities (and trial id, distance).
std::string format_selection_table(const std::vector<ModelCandidate>& rows, const std::vector<ReferenceRange>& ranges);
void write_selection_csv(const std::string& path, const std::vector<ModelCandidate>& rows,
                         const std::vector<ReferenceRange>& ranges);

}  // namespace dasnet
