#include "dist/data_parallel.h"

#include <algorithm>
#include <chrono>

namespace dasnet {

using Clock = std::chrono::steady_clock;

DataParallelSync::DataParallelSync(Communicator& comm, float* gradients, size_t gradient_count,
                                   DataParallelOptions options)
    : comm_(comm),
      gradients_(gradients),
      gradient_count_(gradient_count),
      bucket_floats_(std::max<size_t>(1, options.bucket_bytes / sizeof(float))),
      asynchronous_(comm.asynchronous()),
      background_(options.overlap && comm.thread_safe() && comm.size() > 1 && !asynchronous_) {
  if (background_) worker_ = std::thread([this] { worker_loop(); });
}

DataParallelSync::~DataParallelSync() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void DataParallelSync::broadcast(float* data, size_t count) { comm_.broadcast(data, count, 0); }

void DataParallelSync::sum(double* values, size_t count) { comm_.all_reduce_sum(values, count); }

void DataParallelSync::sum_in_order(double* values, size_t count) {
  if (background_) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    // Only this thread queues work: with nothing queued or running, nothing can start until it
    // returns, so it may call the communicator itself (every forward pass, and late in backward).
    if (!queue_.empty() || in_flight_ > 0) {
      queue_.push_back({0, count, values});
      const size_t ticket = ++host_sums_queued_;
      work_cv_.notify_one();
      done_cv_.wait(lock, [&] { return host_sums_done_ >= ticket || error_; });
      if (error_) std::rethrow_exception(error_);
      return;
    }
  }
  // Without the worker, buckets wait for finish_step; every rank still issues the same order.
  comm_.all_reduce_sum(values, count);
}

void DataParallelSync::begin_step() {
  ready_from_ = bucket_end_ = gradient_count_;
  early_.clear();
}

// Even one rank reduces (a no-op for the single-process communicator): a one-rank NCCL run then
// exercises the whole device path, checked against training without any sync.
void DataParallelSync::gradient_ready(size_t offset, size_t count) {
  early_[offset + count] = offset;
  // Extend the ready suffix with every range that now touches it (normally just this one).
  for (auto it = early_.find(ready_from_); it != early_.end(); it = early_.find(ready_from_)) {
    ready_from_ = it->second;
    early_.erase(it);
  }
  if (bucket_end_ - ready_from_ >= bucket_floats_) {
    enqueue({ready_from_, bucket_end_ - ready_from_});
    bucket_end_ = ready_from_;
  }
}

double DataParallelSync::finish_step(double local_loss_sum) {
  // Whatever is left (also gradients a layer never reported) goes in the last bucket.
  if (bucket_end_ > 0) enqueue({0, bucket_end_});
  bucket_end_ = 0;
  const auto start = Clock::now();
  if (asynchronous_) {
    comm_.wait_async();
  } else if (background_) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [this] { return (queue_.empty() && in_flight_ == 0) || error_; });
  } else {
    while (!queue_.empty()) {
      Range bucket = queue_.front();
      queue_.pop_front();
      reduce(bucket);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    timings_.wait_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    timings_.steps++;
    if (error_) std::rethrow_exception(error_);
  }
  double loss = local_loss_sum;
  comm_.all_reduce_sum(&loss, 1);
  return loss;
}

void DataParallelSync::enqueue(Range bucket) {
  if (asynchronous_) {  // stream-ordered: queued on the device now, behind the gradients it reduces
    comm_.all_reduce_async(gradients_ + bucket.offset, bucket.count, ReduceOp::Average);
    std::lock_guard<std::mutex> lock(mutex_);
    timings_.buckets++;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(bucket);
  }
  if (background_) work_cv_.notify_one();
}

void DataParallelSync::reduce(Range bucket) {
  if (bucket.host) {
    comm_.all_reduce_sum(bucket.host, bucket.count);
    return;
  }
  const auto start = Clock::now();
  comm_.all_reduce(gradients_ + bucket.offset, bucket.count, ReduceOp::Average);
  std::lock_guard<std::mutex> lock(mutex_);
  timings_.reduce_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  timings_.buckets++;
}

void DataParallelSync::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Range bucket = queue_.front();
    queue_.pop_front();
    ++in_flight_;
    lock.unlock();
    try {
      reduce(bucket);
    } catch (...) {
      std::lock_guard<std::mutex> error_lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    lock.lock();
    --in_flight_;
    if (bucket.host) ++host_sums_done_;
    done_cv_.notify_all();
  }
}

SyncTimings DataParallelSync::timings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return timings_;
}

void DataParallelSync::reset_timings() {
  std::lock_guard<std::mutex> lock(mutex_);
  timings_ = {};
}

}  // namespace dasnet
