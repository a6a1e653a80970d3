// The study's spectrum of a patch: each channel's one-sided amplitude spectrum 2/N |DFT|,
// averaged over channels. A direct DFT against a cached cosine/sine table: N is small (200) and
// only the first N/2 bins are needed, so this is simple, exact and fast enough (about 4 M
// multiply-adds per 200 x 200 patch).
#pragma once
#include <cstddef>
#include <vector>

namespace dasnet {

class AmplitudeSpectrum {
 public:
  // Spectra of rows of `samples` values; bins = how many leading bins to keep (<= samples/2 + 1).
  AmplitudeSpectrum(int samples, int bins);
  int samples() const { return samples_; }
  int bins() const { return bins_; }
  // One row (channel) of `samples` values -> `bins` amplitudes 2/N |X_k|.
  void row(const float* x, float* amplitude) const;
  // Mean over `channels` rows (row r starts at patch + r * row_stride) -> `bins` amplitudes.
  std::vector<float> channel_mean(const float* patch, int channels, size_t row_stride) const;

 private:
  int samples_, bins_;
  std::vector<float> cos_, sin_;  // bins x samples
};

}  // namespace dasnet
