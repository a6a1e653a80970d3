#include "io/loader.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "engine/rng.h"

namespace dasnet {

std::vector<size_t> shard_indices(size_t n, bool shuffle, uint64_t seed, int epoch, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::invalid_argument("shard_indices: rank " + std::to_string(rank) + " of " + std::to_string(world));
  std::vector<size_t> order;
  if (shuffle) {
    order = permutation(n, derive_seed(seed, uint64_t(epoch)));
  } else {
    order.resize(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
  }
  if (n == 0) return {};
  size_t per_rank = (n + world - 1) / world;
  size_t total = per_rank * world;
  for (size_t i = n; i < total; ++i) order.push_back(order[(i - n) % n]);
  std::vector<size_t> mine;
  mine.reserve(per_rank);
  for (size_t i = size_t(rank); i < total; i += size_t(world)) mine.push_back(order[i]);
  return mine;
}

Loader::Loader(const DataSource& source, LoaderOptions options) : source_(source), options_(options) {
  if (options_.batch_size <= 0) throw UsageError("batch size must be positive, got " + std::to_string(options_.batch_size));
}

void Loader::start_epoch(int epoch) {
  order_ = shard_indices(source_.size(), options_.shuffle, options_.seed, epoch, options_.rank, options_.world);
  cursor_ = 0;
}

bool Loader::next(Batch& batch) {
  size_t remaining = order_.size() - cursor_;
  if (remaining == 0) return false;
  size_t n = std::min(remaining, size_t(options_.batch_size));
  if (options_.drop_last && n < size_t(options_.batch_size)) return false;
  Shape s = source_.sample_shape();
  s.n = int(n);
  batch.shape = s;
  batch.images.resize(s.numel());
  batch.labels.resize(n);
  batch.indices.assign(order_.begin() + cursor_, order_.begin() + cursor_ + n);
  size_t per = s.per_sample();
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) source_.read(batch.indices[i], batch.images.data() + i * per, &batch.labels[i]);
  cursor_ += n;
  return true;
}

}  // namespace dasnet
