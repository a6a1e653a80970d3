// The op set every backend (reference CPU, fast CPU, CUDA) implements. Layers call only these,
// so a layer is written once and runs wherever a backend exists. All pointers are backend
// memory (host for the CPU backends, device for CUDA); per-channel vectors are float arrays.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/channel_reducer.h"
#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

struct ConvGeometry {
  int in_channels = 0, out_channels = 0, kernel = 3, stride = 1, padding = 1;
  Shape output_shape(const Shape& in) const {
    return {in.n, out_channels, (in.h + 2 * padding - kernel) / stride + 1,
            (in.w + 2 * padding - kernel) / stride + 1};
  }
  size_t weight_count() const { return size_t(out_channels) * in_channels * kernel * kernel; }
};

// How the network's K outputs become a loss and probabilities.
enum class OutputMode {
  Sigmoid,     // K = 1: sigmoid + binary cross-entropy; label 0/1
  Softmax,     // K >= 2: softmax + cross-entropy; label = class index
  Multilabel,  // K sigmoids + BCE each; label = bit mask of the positive classes
};

struct LossTotals {
  double loss_sum = 0;  // summed over the batch (mean = loss_sum / n)
  long correct = 0;     // argmax (or all bits, multilabel) equals the label
};

class Backend;

// Backend memory owned by one holder and released when it goes (tiny-cuda-nn's GPUMemory): move
// only, so a throw anywhere between allocation and use leaks nothing. It must not outlive the
// backend that allocated it.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept { swap(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    Buffer(std::move(other)).swap(*this);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  float* data() const { return data_; }
  size_t size() const { return count_; }  // floats
  explicit operator bool() const { return data_ != nullptr; }
  void reset() noexcept;  // releases the memory now

 private:
  friend class Backend;
  Buffer(Backend* owner, float* data, size_t count) : owner_(owner), data_(data), count_(count) {}
  void swap(Buffer& other) noexcept {
    std::swap(owner_, other.owner_);
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
  }
  Backend* owner_ = nullptr;
  float* data_ = nullptr;
  size_t count_ = 0;
};

// What a backend that can record a whole training step once and replay it offers (the CUDA
// backend's graphs; train/cuda_graph_step.h drives it). While capturing, ops are recorded, not
// run: loss() returns zeros, and the host inputs (images, labels, learning rate) are read at each
// replay from the buffers replay() fills.
class StepGraph {
 public:
  virtual void begin_capture() = 0;
  virtual void end_capture() = 0;  // instantiates the graph
  virtual bool has_graph() const = 0;
  virtual void drop_graph() = 0;
  // Writes new host inputs, launches the graph and returns the step's loss totals as soon as they
  // are in; the rest of the step may still run, ordered before every later op of the backend.
  virtual LossTotals replay(const float* images_nchw, size_t image_count, const int* labels, int label_count,
                            float lr) = 0;
  // Changes whenever backend memory is allocated, released or reallocated: a graph captured under
  // another generation may point at freed memory.
  virtual size_t memory_generation() const = 0;

 protected:
  ~StepGraph() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // name() and what the backend chose for this machine (the CPU's ISA and layout), for logs.
  virtual std::string describe() const { return name(); }
  // Asynchronous backends (CUDA): the stream their ops are queued on (a cudaStream_t), for
  // device communicators that must order collectives after them. Null: ops are done on return.
  virtual void* native_stream() { return nullptr; }
  // Backends that can replay a recorded training step (CUDA): that capability; null elsewhere.
  virtual StepGraph* step_graph() { return nullptr; }

  // Memory: zeroed, 64-byte aligned `count` floats, released when the buffer goes.
  Buffer allocate(size_t count) {
    Buffer buffer(this, allocate_memory(count), count);
    ++live_buffers_;
    return buffer;
  }
  // Buffers of this backend not yet released (leak checks in tests).
  long live_buffers() const { return live_buffers_; }
  virtual void copy_to_host(float* host, const float* src, size_t count) = 0;
  virtual void copy_from_host(float* dst, const float* host, size_t count) = 0;
  virtual void copy(float* dst, const float* src, size_t count) = 0;
  virtual void fill(float* dst, size_t count, float value) = 0;

  // The layout this backend keeps activations with `channels` channels in.
  virtual Layout activation_layout(int channels) const = 0;
  // The element type of the 4-D activations and their gradients (the input images, convolution,
  // batchnorm, ReLU and add outputs); pooled features, logits and parameters stay fp32.
  virtual DType activation_dtype() const { return DType::F32; }
  // Host NCHW <-> tensor in its own layout (inputs, tests, predictions).
  virtual void from_nchw(const float* host_nchw, Tensor& dst) = 0;
  virtual void to_nchw(const Tensor& src, float* host_nchw) = 0;

  // Convolution without bias; weights OIHW (PyTorch's order) in the parameter buffer.
  virtual void conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) = 0;
  // dx = conv^T(dy); with accumulate, dx += it, using `scratch` of
  // conv_accumulate_scratch(dx.shape) floats.
  virtual size_t conv_accumulate_scratch(const Shape& dx) const { return dx.numel(); }
  virtual void conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                  bool accumulate, float* scratch) = 0;
  // dw = correlation of x and dy (overwrites dw).
  virtual void conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) = 0;

  // Batch mean and biased variance per channel.
  virtual void channel_statistics(const Tensor& x, float* mean, float* var) = 0;
  // Synchronized batchnorm: per-channel sum of x (sums_host[c]) and of x^2 (sums_host[C + c])
  // over this batch, in double on the host, ready to be summed over the ranks.
  virtual void channel_sums(const Tensor& x, double* sums_host) = 0;
  // y = act(x * scale[c] + shift[c] (+ residual)). act = ReLU or identity. y may alias x.
  virtual void scale_shift_activate(const Tensor& x, const float* scale, const float* shift,
                                    const Tensor* residual, bool relu, Tensor& y) = 0;
  // Batchnorm backward through an optional ReLU (mask from its output y) in training mode.
  // g = dy * [y > 0]; dgamma = sum g*xhat; dbeta = sum g; dx = gamma*invstd*(g - mean g - xhat*mean(g*xhat)).
  // dresidual (optional) receives g, added when accumulate_residual.
  // With a `reducer` (synchronized batchnorm; mean and invstd are then the global statistics),
  // sum g, sum g*xhat and the value count are summed over the ranks before dx is computed;
  // dgamma and dbeta stay this rank's sums (data parallel training averages them like any gradient).
  virtual void batchnorm_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x,
                                  const float* mean, const float* invstd, const float* gamma, Tensor& dx,
                                  float* dgamma, float* dbeta, Tensor* dresidual, bool accumulate_residual,
                                  ChannelReducer* reducer) = 0;

  // Per-channel bookkeeping of batchnorm (tiny vectors). Training: from the batch statistics,
  // compute scale/shift/invstd and update running stats (momentum, unbiased variance).
  // Eval: scale/shift from the running statistics.
  virtual void batchnorm_coefficients(int channels, const float* batch_mean, const float* batch_var,
                                      const float* gamma, const float* beta, float* running_mean,
                                      float* running_var, long count, float momentum, float eps, bool training,
                                      float* scale, float* shift, float* invstd) = 0;

  virtual void relu_forward(const Tensor& x, Tensor& y) = 0;
  virtual void relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) = 0;
  // dst = src, or dst += src.
  virtual void pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) = 0;
  virtual void add(const Tensor& a, const Tensor& b, Tensor& y) = 0;

  // x: N x C x H x W -> y: N x C (plain).
  virtual void global_avg_pool_forward(const Tensor& x, Tensor& y) = 0;
  virtual void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) = 0;

  // y[N x out] = x[N x in] W^T + b; W is out x in (PyTorch's order).
  virtual void linear_forward(const Tensor& x, const float* w, const float* b, int out_features, Tensor& y) = 0;
  virtual void linear_backward(const Tensor& x, const Tensor& dy, const float* w, int out_features, Tensor* dx,
                               bool accumulate, float* dw, float* db) = 0;

  // Loss of logits (N x K) against host labels; writes dlogits (d mean loss / d logits) when given,
  // and probabilities (N x K: sigmoid or softmax) when given (backend memory).
  virtual LossTotals loss(OutputMode mode, const Tensor& logits, const int* labels_host, Tensor* dlogits,
                          Tensor* probabilities) = 0;

  // PyTorch SGD on a flat range: g += wd*p; v = m*v + g; p -= lr*(nesterov ? g + m*v : v).
  virtual void sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr,
                          float momentum, float weight_decay, bool nesterov) = 0;

  // Mixed precision with loss scaling (CUDA fp16): loss() multiplies the loss gradient by a scale so
  // that small gradients survive in fp16. Before an optimizer step, unscale_gradients() divides the
  // whole flat gradient buffer by it and notes whether any value overflowed; sgd_update() then
  // leaves such a step out, and finish_optimizer_step() adapts the scale. No-ops elsewhere.
  virtual void unscale_gradients(float* /*grads*/, size_t /*count*/) {}
  virtual void finish_optimizer_step() {}
  // Optimizer steps left out so far because their gradients overflowed (waits for the device).
  virtual long skipped_optimizer_steps() { return 0; }
  // Optimizer state the backend itself keeps (fp16: loss scale, clean steps, skipped steps), for
  // checkpoints; empty when there is none. Restoring an empty or foreign vector changes nothing.
  virtual std::vector<double> optimizer_state() { return {}; }
  virtual void restore_optimizer_state(const std::vector<double>& /*state*/) {}

  // Sum of squares (for diagnostics and divergence checks), returned on the host.
  virtual double sum_squares(const float* x, size_t count) = 0;

 protected:
  // What allocate() and Buffer call: the memory itself. release_memory must not throw (it runs
  // in destructors): a backend that must wait for queued work first reports nothing.
  virtual float* allocate_memory(size_t count) = 0;
  virtual void release_memory(float* p) noexcept = 0;

 private:
  friend class Buffer;
  std::atomic<long> live_buffers_{0};
};

inline void Buffer::reset() noexcept {
  if (data_) {
    owner_->release_memory(data_);
    --owner_->live_buffers_;
  }
  owner_ = nullptr;
  data_ = nullptr;
  count_ = 0;
}

// Checks that labels fit the output mode and K, for every backend's loss; throws UsageError
// naming the offending sample.
void validate_labels(OutputMode mode, int n, int k, const int* labels);

}  // namespace dasnet
