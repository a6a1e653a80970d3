#include "io/amplitude_spectrum.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace dasnet {

AmplitudeSpectrum::AmplitudeSpectrum(int samples, int bins) : samples_(samples), bins_(bins) {
  if (samples < 2 || bins < 1 || bins > samples / 2 + 1)
    throw std::invalid_argument("AmplitudeSpectrum: " + std::to_string(bins) + " bins of " + std::to_string(samples) +
                                " samples");
  cos_.resize(size_t(bins) * samples);
  sin_.resize(size_t(bins) * samples);
  const double two_pi = 6.283185307179586;
  for (int k = 0; k < bins; ++k)
    for (int t = 0; t < samples; ++t) {
      // (k * t) mod N keeps the angle small, so the table is accurate to float rounding.
      double angle = two_pi * double((long(k) * t) % samples) / samples;
      cos_[size_t(k) * samples + t] = float(std::cos(angle));
      sin_[size_t(k) * samples + t] = float(std::sin(angle));
    }
}

void AmplitudeSpectrum::row(const float* x, float* amplitude) const {
  const float scale = 2.0f / float(samples_);
  for (int k = 0; k < bins_; ++k) {
    const float* c = cos_.data() + size_t(k) * samples_;
    const float* s = sin_.data() + size_t(k) * samples_;
    float re = 0, im = 0;
    for (int t = 0; t < samples_; ++t) {
      re += x[t] * c[t];
      im += x[t] * s[t];
    }
    amplitude[k] = scale * std::sqrt(re * re + im * im);
  }
}

std::vector<float> AmplitudeSpectrum::channel_mean(const float* patch, int channels, size_t row_stride) const {
  std::vector<float> mean(size_t(bins_), 0.0f);
  std::vector<float> one(static_cast<size_t>(bins_));
  for (int r = 0; r < channels; ++r) {
    row(patch + size_t(r) * row_stride, one.data());
    for (int k = 0; k < bins_; ++k) mean[size_t(k)] += one[size_t(k)];
  }
  for (float& m : mean) m /= float(std::max(channels, 1));
  return mean;
}

}  // namespace dasnet
