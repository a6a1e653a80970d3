// What the Trainer needs from data-parallel training, and nothing more: core/ and train/ stay free of
// MPI and NCCL, and dist/ implements this over a communicator (dist/data_parallel.h).
// All float pointers are backend memory (host for the CPU backends, device for CUDA).
#pragma once
#include <cstddef>

#include "core/channel_reducer.h"

namespace dasnet {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;

  // Copies `count` floats from rank 0 to every rank (initial weights, optimizer state, and the
  // batchnorm running statistics at the end of each epoch, as DDP's broadcast_buffers does).
  virtual void broadcast(float* data, size_t count) = 0;

  // One training step: begin_step() before forward; gradient_ready() from the Network's hook as
  // each layer's gradients [offset, offset + count) are final (buckets start reducing while
  // backward goes on); finish_step() after backward waits until every gradient is averaged over
  // the ranks, and returns the sum over ranks of `local_loss_sum`, so that every rank sees the
  // same loss and stops together when it is not finite.
  virtual void begin_step() = 0;
  virtual void gradient_ready(size_t offset, size_t count) = 0;
  virtual double finish_step(double local_loss_sum) = 0;

  // Element-wise sum over ranks of host doubles (metrics: loss sums, counts, rates).
  virtual void sum(double* values, size_t count) = 0;

  // Synchronized batchnorm's per-channel sums during forward and backward, kept in order with
  // the step's gradient reductions; null when not supported.
  virtual ChannelReducer* batchnorm_reducer() { return nullptr; }
};

}  // namespace dasnet
