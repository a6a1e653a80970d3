// The study's labeling rule for one patch (FIELD-NOTES section 1), with its thresholds exposed.
// Order of the tests, as in the study: saturated, then noise, then waves, else other.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "io/amplitude_spectrum.h"

namespace dasnet {

enum class PatchLabel { noise = 0, waves = 1, saturated = 2, other = 3, invalid = 4 };
constexpr int kNumPatchLabels = 5;
const char* patch_label_name(PatchLabel label);
// Inverse of patch_label_name; throws std::invalid_argument on an unknown name.
PatchLabel patch_label_from_name(const std::string& name);

struct LabelRule {
  double saturation_std = 1000;   // std of the raw patch above this -> saturated
  double noise_low_max_hz = 40;   // "low" band: [0, noise_low_max_hz)
  double noise_high_max_hz = 82.5;  // "high" band: [noise_low_max_hz, noise_high_max_hz]
  double waves_split_hz = 50;     // waves: max below this ...
  double waves_ratio = 2;         // ... above waves_ratio x the mean at or above it
  int bins = 100;                 // leading spectrum bins the rule looks at (100 x 2.5 Hz)
};

// What the rule saw, for reports and tests.
struct PatchVerdict {
  PatchLabel label = PatchLabel::other;
  double std_dev = 0;
  double low_band_max = 0, high_band_min = 0;  // noise test
  double below_split_max = 0, above_split_mean = 0;  // waves test
};

class PatchLabeler {
 public:
  // channels x samples patches sampled at rate_hz.
  PatchLabeler(int channels, int samples, double rate_hz, LabelRule rule = {});
  // patch rows start at patch + r * row_stride. Patches holding NaN or Inf are `invalid`.
  PatchVerdict classify(const float* patch, size_t row_stride) const;
  PatchLabel label(const float* patch, size_t row_stride) const { return classify(patch, row_stride).label; }
  const LabelRule& rule() const { return rule_; }
  double bin_hz() const { return rate_hz_ / samples_; }

 private:
  int channels_, samples_;
  double rate_hz_;
  LabelRule rule_;
  AmplitudeSpectrum spectrum_;
};

}  // namespace dasnet
