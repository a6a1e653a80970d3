#include "io/labeling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace dasnet {

const char* patch_label_name(PatchLabel label) {
  switch (label) {
    case PatchLabel::noise: return "noise";
    case PatchLabel::waves: return "waves";
    case PatchLabel::saturated: return "saturated";
    case PatchLabel::other: return "other";
    case PatchLabel::invalid: return "invalid";
  }
  return "?";
}

PatchLabel patch_label_from_name(const std::string& name) {
  for (int i = 0; i < kNumPatchLabels; ++i)
    if (name == patch_label_name(PatchLabel(i))) return PatchLabel(i);
  throw std::invalid_argument("unknown patch label '" + name + "'");
}

PatchLabeler::PatchLabeler(int channels, int samples, double rate_hz, LabelRule rule)
    : channels_(channels),
      samples_(samples),
      rate_hz_(rate_hz),
      rule_(rule),
      spectrum_(samples, std::min(rule.bins, samples / 2 + 1)) {
  if (channels < 1) throw std::invalid_argument("PatchLabeler: no channels");
  if (!(rate_hz > 0)) throw std::invalid_argument("PatchLabeler: sampling rate must be positive");
}

PatchVerdict PatchLabeler::classify(const float* patch, size_t row_stride) const {
  PatchVerdict v;
  // Mean and std in double: raw int16 counts over 40,000 samples lose precision in float.
  double sum = 0, sum_sq = 0;
  for (int r = 0; r < channels_; ++r) {
    const float* row = patch + size_t(r) * row_stride;
    for (int t = 0; t < samples_; ++t) {
      if (!std::isfinite(row[t])) {
        v.label = PatchLabel::invalid;
        return v;
      }
      sum += row[t];
      sum_sq += double(row[t]) * row[t];
    }
  }
  double n = double(channels_) * samples_;
  double mean = sum / n;
  v.std_dev = std::sqrt(std::max(0.0, sum_sq / n - mean * mean));
  if (v.std_dev > rule_.saturation_std) {
    v.label = PatchLabel::saturated;
    return v;
  }
  std::vector<float> s = spectrum_.channel_mean(patch, channels_, row_stride);
  const double hz = bin_hz();
  double low_max = -1, high_min = std::numeric_limits<double>::infinity();
  double below_max = -1, above_sum = 0;
  int above_count = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    double f = double(k) * hz;
    if (f < rule_.noise_low_max_hz) low_max = std::max(low_max, double(s[k]));
    else if (f <= rule_.noise_high_max_hz + 1e-9) high_min = std::min(high_min, double(s[k]));
    if (f < rule_.waves_split_hz) below_max = std::max(below_max, double(s[k]));
    else {
      above_sum += s[k];
      ++above_count;
    }
  }
  v.low_band_max = low_max;
  v.high_band_min = std::isfinite(high_min) ? high_min : 0;
  v.below_split_max = below_max;
  v.above_split_mean = above_count ? above_sum / above_count : 0;
  if (std::isfinite(high_min) && low_max >= 0 && low_max < high_min) v.label = PatchLabel::noise;
  else if (above_count && below_max > rule_.waves_ratio * v.above_split_mean) v.label = PatchLabel::waves;
  else v.label = PatchLabel::other;
  return v;
}

}  // namespace dasnet
