// Batches for training: per-epoch shuffle from (seed, epoch), sharded across ranks with the
// semantics of PyTorch's DistributedSampler (each rank gets ceil(N/p) indices; the shuffled
// list is padded by repeating its head so it divides evenly; rank r takes r, r+p, r+2p, ...).
//
// With workers > 0, background threads fill batches ahead of the consumer into a bounded ring of
// `prefetch_batches` slots. Batch k of an epoch always holds the same samples in the same order
// (it depends only on the epoch's index list), and next() hands batches out in order, so results
// do not depend on thread timing. An exception thrown while reading a sample is rethrown by the
// next() that would have returned its batch. Destroying the loader or starting another epoch
// mid-epoch stops and joins the workers.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/data_source.h"
#include "io/host_memory.h"

namespace dasnet {

struct Batch {
  Shape shape;                  // n = number of samples in this batch
  HostFloats images;            // n x C x H x W (page-locked when the loader has host hooks)
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
  int workers = 2;            // background threads; 0 = fill batches in next() (OpenMP)
  int prefetch_batches = 4;   // ready or in-flight batches held ahead of the consumer
  HostMemoryHooks host_memory;  // allocator for batch images (e.g. CUDA pinned memory)
};

// The indices rank `rank` of `world` visits in epoch `epoch`.
std::vector<size_t> shard_indices(size_t n, bool shuffle, uint64_t seed, int epoch, int rank, int world);

class Loader {
 public:
  Loader(const DataSource& source, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  void start_epoch(int epoch);
  // Fills the next batch of this epoch; false when the epoch is done.
  bool next(Batch& batch);
  size_t samples_per_epoch() const { return order_.size(); }
  size_t batches_per_epoch() const { return num_batches_; }
  const LoaderOptions& options() const { return options_; }

 private:
  struct Slot {
    Batch batch;
    size_t index = SIZE_MAX;  // which batch of the epoch the slot holds
    bool ready = false;
    std::exception_ptr error;
  };
  void fill(size_t batch_index, Batch& out, bool parallel) const;
  void worker_loop();
  void stop_workers();

  const DataSource& source_;
  LoaderOptions options_;
  std::vector<size_t> order_;
  size_t num_batches_ = 0;
  size_t next_deliver_ = 0;  // next batch next() returns
  size_t next_claim_ = 0;    // next batch a worker fills
  bool stop_ = false;
  std::vector<Slot> slots_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
};

}  // namespace dasnet
