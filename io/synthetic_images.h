// The built-in two-class image set: coherent sloped stripes (waves = 1: a few plane waves with
// moveout across channels, plus noise) against white noise (noise = 0), each image min-max
// scaled to [0, 1] like the study's patches. Every image is a pure function of (seed, index),
// so sets of any size cost no memory and are identical run to run.
#pragma once
#include <cstdint>

#include "core/data_source.h"

namespace dasnet {

class SyntheticImages : public DataSource {
 public:
  SyntheticImages(size_t count, Shape sample_shape, uint64_t seed);
  size_t size() const override { return count_; }
  Shape sample_shape() const override { return shape_; }
  void read(size_t index, float* image_chw, int* label) const override;

 private:
  size_t count_;
  Shape shape_;
  uint64_t seed_;
};

}  // namespace dasnet
