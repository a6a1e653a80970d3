// Batches for training: per-epoch shuffle from (seed, epoch), sharded across ranks with the
// semantics of PyTorch's DistributedSampler (each rank gets ceil(N/p) indices; the shuffled
// list is padded by repeating its head so it divides evenly; rank r takes r, r+p, r+2p, ...).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/data_source.h"

namespace dasnet {

struct Batch {
  Shape shape;                  // n = number of samples in this batch
  std::vector<float> images;    // n x C x H x W
  std::vector<int> labels;      // n
  std::vector<size_t> indices;  // data-source index of each sample
  int count() const { return shape.n; }
};

struct LoaderOptions {
  int batch_size = 128;
  bool shuffle = true;
  uint64_t seed = 0;
  int rank = 0;
  int world = 1;
  bool drop_last = false;
};

// The indices rank `rank` of `world` visits in epoch `epoch`.
std::vector<size_t> shard_indices(size_t n, bool shuffle, uint64_t seed, int epoch, int rank, int world);

class Loader {
 public:
  Loader(const DataSource& source, LoaderOptions options);
  void start_epoch(int epoch);
  // Fills the next batch of this epoch; false when the epoch is done.
  bool next(Batch& batch);
  size_t samples_per_epoch() const { return order_.size(); }
  const LoaderOptions& options() const { return options_; }

 private:
  const DataSource& source_;
  LoaderOptions options_;
  std::vector<size_t> order_;
  size_t cursor_ = 0;
};

}  // namespace dasnet
