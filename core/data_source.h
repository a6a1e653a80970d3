// A labeled image set as the training loop sees it. Implementations: the built-in synthetic
// set (io/synthetic_images.h) and the HDF5 data set files of io/dataset.h.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dasnet {

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual size_t size() const = 0;
  // Shape of one sample (n = 1): channels x height (fiber channels) x width (time samples).
  virtual Shape sample_shape() const = 0;
  // Writes one image (C x H x W floats in [0, 1]) and its label. Must be thread-safe.
  virtual void read(size_t index, float* image_chw, int* label) const = 0;
  // Class names in label order (study: noise = 0, waves = 1).
  virtual std::vector<std::string> class_names() const { return {"noise", "waves"}; }
};

}  // namespace dasnet
