#include "io/loader.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/rng.h"
#include "core/usage_error.h"

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
  if (options_.workers < 0) throw UsageError("loader workers must not be negative, got " + std::to_string(options_.workers));
  if (options_.workers > 0 && options_.prefetch_batches < 1)
    throw UsageError("loader prefetch must be at least 1 batch, got " + std::to_string(options_.prefetch_batches));
}

Loader::~Loader() { stop_workers(); }

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Loader::start_epoch(int epoch) {
  stop_workers();
  order_ = shard_indices(source_.size(), options_.shuffle, options_.seed, epoch, options_.rank, options_.world);
  const size_t b = size_t(options_.batch_size);
  num_batches_ = options_.drop_last ? order_.size() / b : (order_.size() + b - 1) / b;
  next_deliver_ = next_claim_ = 0;
  stop_ = false;
  if (options_.workers == 0 || num_batches_ == 0) return;
  if (slots_.size() != size_t(options_.prefetch_batches)) slots_ = std::vector<Slot>(size_t(options_.prefetch_batches));
  for (auto& s : slots_) {
    s.ready = false;
    s.index = SIZE_MAX;
    s.error = nullptr;
  }
  const size_t threads = std::min(size_t(options_.workers), num_batches_);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { worker_loop(); });
}

void Loader::fill(size_t batch_index, Batch& batch, bool parallel) const {
  const size_t first = batch_index * size_t(options_.batch_size);
  const size_t n = std::min(size_t(options_.batch_size), order_.size() - first);
  Shape s = source_.sample_shape();
  s.n = int(n);
  batch.shape = s;
  if (batch.images.get_allocator() != HostAllocator<float>(options_.host_memory))
    batch.images = HostFloats(HostAllocator<float>(options_.host_memory));
  batch.images.resize(s.numel());
  batch.labels.resize(n);
  batch.indices.assign(order_.begin() + long(first), order_.begin() + long(first + n));
  const size_t per = s.per_sample();
  if (parallel) {
    // Exceptions must not leave an OpenMP region: keep the first and rethrow after it.
    std::exception_ptr error;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
      try {
        source_.read(batch.indices[i], batch.images.data() + i * per, &batch.labels[i]);
      } catch (...) {
#pragma omp critical(dasnet_loader_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  } else {
    for (size_t i = 0; i < n; ++i) source_.read(batch.indices[i], batch.images.data() + i * per, &batch.labels[i]);
  }
}

void Loader::worker_loop() {
  const size_t capacity = slots_.size();
  for (;;) {
    size_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Claim the next batch once its slot has been handed out (bounded read-ahead).
      work_cv_.wait(lock, [&] { return stop_ || next_claim_ >= num_batches_ || next_claim_ < next_deliver_ + capacity; });
      if (stop_ || next_claim_ >= num_batches_) return;
      b = next_claim_++;
    }
    Slot& slot = slots_[b % capacity];
    std::exception_ptr error;
    try {
      fill(b, slot.batch, false);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slot.index = b;
      slot.error = error;
      slot.ready = true;
    }
    ready_cv_.notify_all();
  }
}

bool Loader::next(Batch& batch) {
  if (next_deliver_ >= num_batches_) return false;
  if (options_.workers == 0) {
    fill(next_deliver_, batch, true);
    ++next_deliver_;
    return true;
  }
  Slot& slot = slots_[next_deliver_ % slots_.size()];
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return slot.ready && slot.index == next_deliver_; });
    if (slot.error) {
      std::exception_ptr error = slot.error;
      // The epoch cannot continue past a failed batch: end it here.
      stop_ = true;
      lock.unlock();
      work_cv_.notify_all();
      for (auto& t : threads_) t.join();
      threads_.clear();
      next_deliver_ = num_batches_;
      std::rethrow_exception(error);
    }
    std::swap(batch, slot.batch);
    slot.ready = false;
    ++next_deliver_;
  }
  work_cv_.notify_all();
  return true;
}

}  // namespace dasnet
