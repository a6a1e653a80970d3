// Data-parallel gradient averaging for the Trainer (core/gradient_sync.h) over a Communicator.
// Layers report their gradient ranges during backward from the end of the flat buffer to its
// start; contiguous ready ranges are fused into buckets of about `bucket_bytes` and handed to a
// background thread that all-reduces (averages) each while backward computes the earlier layers.
// finish_step() reduces the last partial bucket and waits for all of them. Synchronized batchnorm
// sums (batchnorm_reducer()) go through the same queue, so every rank issues its collectives in the
// same order (MPI forbids concurrent collectives on one communicator).
// With a stream-ordered communicator (NCCL and the CUDA backend) there is no thread: each bucket's
// all-reduce is queued on the device as soon as it is full, behind the kernels that compute it,
// and finish_step makes the optimizer's kernels wait for the last one.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "core/gradient_sync.h"
#include "dist/communicator.h"

namespace dasnet {

struct DataParallelOptions {
  size_t bucket_bytes = size_t(1) << 20;
  bool overlap = true;  // reduce on a background thread while backward runs (when the communicator allows)
};

// Cumulative timings of this rank (for dasnet bench scaling and logs).
struct SyncTimings {
  long steps = 0, buckets = 0;
  double reduce_seconds = 0;  // inside all-reduce calls (overlapped with backward or not)
  double wait_seconds = 0;    // finish_step waiting for reductions: the part not hidden by backward
                              // (stream-ordered: also the rest of backward still running on the device)
};

class DataParallelSync : public GradientSync {
 public:
  DataParallelSync(Communicator& comm, float* gradients, size_t gradient_count, DataParallelOptions options = {});
  ~DataParallelSync() override;
  DataParallelSync(const DataParallelSync&) = delete;
  DataParallelSync& operator=(const DataParallelSync&) = delete;

  int rank() const override { return comm_.rank(); }
  int world() const override { return comm_.size(); }
  void broadcast(float* data, size_t count) override;
  void begin_step() override;
  void gradient_ready(size_t offset, size_t count) override;
  double finish_step(double local_loss_sum) override;
  void sum(double* values, size_t count) override;
  ChannelReducer* batchnorm_reducer() override { return &batchnorm_reducer_; }

  SyncTimings timings() const;
  void reset_timings();

 private:
  // A gradient bucket [offset, offset + count) of the flat buffer, or (host set) a sum of
  // `count` host doubles for synchronized batchnorm.
  struct Range {
    size_t offset, count;
    double* host = nullptr;
  };
  class BatchNormReducer : public ChannelReducer {
   public:
    explicit BatchNormReducer(DataParallelSync& sync) : sync_(sync) {}
    void sum(double* values, size_t count) override { sync_.sum_in_order(values, count); }

   private:
    DataParallelSync& sync_;
  };
  void enqueue(Range bucket);
  void reduce(Range bucket);
  void worker_loop();
  // Sums host doubles over the ranks after every collective queued before it.
  void sum_in_order(double* values, size_t count);

  Communicator& comm_;
  float* gradients_;
  size_t gradient_count_;
  size_t bucket_floats_;
  bool asynchronous_;  // the communicator queues all-reduces on the device (comm.asynchronous())
  bool background_;
  // Main thread only: [ready_from_, end) is final; [ready_from_, bucket_end_) not yet queued.
  size_t ready_from_ = 0, bucket_end_ = 0;
  std::map<size_t, size_t> early_;  // ranges reported out of order: end -> offset
  // Shared with the worker.
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Range> queue_;
  size_t in_flight_ = 0;
  size_t host_sums_queued_ = 0, host_sums_done_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  SyncTimings timings_;
  BatchNormReducer batchnorm_reducer_{*this};
  std::thread worker_;
};

}  // namespace dasnet
