// The CUDA backend: convolutions through cuDNN (kernels/cuda/cudnn_ops.*), the linear layer
// through cuBLAS, everything else in hand-written kernels (kernels/cuda/*.cu). Activations are
// fp32, bf16 or fp16, NCHW or NHWC, in device memory; all work runs on one stream of the
// backend's own, so a training step issues no host synchronization except where the Backend
// contract returns host values
// (loss totals, sum_squares, copy_to_host). Includable without CUDA headers.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"

namespace dasnet {

// Arithmetic of convolutions and matrix products. Parameters, gradients and activations stay fp32.
enum class CudaPrecision {
  Fp32,  // exact fp32 (cuDNN FMA math, cuBLAS default math)
  Tf32,  // tensor cores with TF32 inputs (10-bit mantissa), fp32 accumulation
  // Mixed precision: activations and their gradients in bfloat16 (half the memory traffic),
  // convolutions on bf16 tensor cores with fp32 accumulation; parameters, their gradients, SGD,
  // batchnorm statistics and arithmetic, pooled features, the linear layer and the loss in fp32.
  // bf16 keeps fp32's exponent range: no loss scaling needed (A100 / H100 / H200).
  Bf16,
  // The same with fp16 activations (V100 and newer) and dynamic loss scaling, all on the device:
  // the loss gradient is multiplied by the scale, gradients are divided by it before SGD, a step
  // whose gradients overflowed is skipped and halves the scale, 2000 clean steps double it.
  Fp16,
};
// "fp32", "tf32", "bf16", "fp16".
CudaPrecision parse_cuda_precision(const std::string& name);
const char* cuda_precision_name(CudaPrecision precision);

struct CudaOptions {
  CudaPrecision precision = CudaPrecision::Fp32;
  bool deterministic = false;  // only deterministic cuDNN algorithms (our own kernels always are)
  size_t workspace_limit_bytes = size_t(1) << 30;  // cap of the shared cuDNN workspace
  float initial_loss_scale = 65536;  // fp16 (DASNET_CUDA_LOSS_SCALE)
  // Activation layout: NHWC (channels last, what tensor cores convolve natively) or NCHW. Unset:
  // NHWC for the tensor-core precisions (tf32, bf16, fp16), NCHW for exact fp32 (DASNET_CUDA_LAYOUT).
  std::optional<bool> channels_last;
  bool uses_channels_last() const { return channels_last.value_or(precision != CudaPrecision::Fp32); }
  int device = -1;  // -1: the current device (0, or the one the NCCL communicator chose for this rank)
  bool verbose = false;  // print algorithm choices
  // From DASNET_CUDA_PRECISION, DASNET_CUDA_DETERMINISTIC (1), DASNET_CUDA_WORKSPACE_MB,
  // DASNET_CUDA_DEVICE, DASNET_CUDA_VERBOSE (1), DASNET_CUDA_LOSS_SCALE, DASNET_CUDA_LAYOUT (nchw,
  // nhwc); unset variables keep the defaults above.
  static CudaOptions from_environment();
};

// Whether this process can use a CUDA device; when not, `why` says why (no device, driver too
// old, ...). Tests skip on false and print it.
bool cuda_device_available(std::string* why);

// fp16's loss-scaling state: the current scale, the clean steps since it last changed and the
// steps skipped for overflow so far.
struct CudaLossScale {
  double scale = 1;
  long clean_steps = 0;
  long skipped_steps = 0;
};

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(const CudaOptions& options = CudaOptions::from_environment());
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override;
  void* native_stream() override;
  const CudaOptions& options() const { return options_; }

  void copy_to_host(float* host, const float* src, size_t count) override;
  void copy_from_host(float* dst, const float* host, size_t count) override;
  void copy(float* dst, const float* src, size_t count) override;
  void fill(float* dst, size_t count, float value) override;

  Layout activation_layout(int) const override {
    return options_.uses_channels_last() ? Layout::NHWC : Layout::NCHW;
  }
  DType activation_dtype() const override {
    return options_.precision == CudaPrecision::Bf16   ? DType::BF16
           : options_.precision == CudaPrecision::Fp16 ? DType::F16
                                                       : DType::F32;
  }
  void from_nchw(const float* host_nchw, Tensor& dst) override;
  void to_nchw(const Tensor& src, float* host_nchw) override;

  void conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) override;
  void conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx, bool accumulate,
                          float* scratch) override;
  void conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) override;
  // cuDNN accumulates in place (beta = 1): no scratch.
  size_t conv_accumulate_scratch(const Shape&) const override { return 0; }

  void channel_statistics(const Tensor& x, float* mean, float* var) override;
  void channel_sums(const Tensor& x, double* sums_host) override;
  void scale_shift_activate(const Tensor& x, const float* scale, const float* shift, const Tensor* residual,
                            bool relu, Tensor& y) override;
  void batchnorm_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x, const float* mean,
                          const float* invstd, const float* gamma, Tensor& dx, float* dgamma, float* dbeta,
                          Tensor* dresidual, bool accumulate_residual, ChannelReducer* reducer) override;
  void batchnorm_coefficients(int channels, const float* batch_mean, const float* batch_var, const float* gamma,
                              const float* beta, float* running_mean, float* running_var, long count,
                              float momentum, float eps, bool training, float* scale, float* shift,
                              float* invstd) override;

  void relu_forward(const Tensor& x, Tensor& y) override;
  void relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) override;
  void pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) override;
  void add(const Tensor& a, const Tensor& b, Tensor& y) override;

  void global_avg_pool_forward(const Tensor& x, Tensor& y) override;
  void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) override;

  void linear_forward(const Tensor& x, const float* w, const float* b, int out_features, Tensor& y) override;
  void linear_backward(const Tensor& x, const Tensor& dy, const float* w, int out_features, Tensor* dx,
                       bool accumulate, float* dw, float* db) override;

  // Labels are validated on the host, then copied to the device through a pinned buffer.
  LossTotals loss(OutputMode mode, const Tensor& logits, const int* labels_host, Tensor* dlogits,
                  Tensor* probabilities) override;

  void sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr, float momentum,
                  float weight_decay, bool nesterov) override;
  double sum_squares(const float* x, size_t count) override;
  void unscale_gradients(float* grads, size_t count) override;
  void finish_optimizer_step() override;
  long skipped_optimizer_steps() override { return loss_scale().skipped_steps; }
  // fp16: {scale, clean steps, skipped steps}; empty otherwise.
  std::vector<double> optimizer_state() override;
  void restore_optimizer_state(const std::vector<double>& state) override;
  // fp16: the current loss scale (kernels/cuda/loss_scaler.h; waits for the device); all
  // defaults otherwise.
  using LossScale = CudaLossScale;
  LossScale loss_scale();

  // CUDA graphs of a training step (kernels/cuda/graph_capture.h, driven by
  // train/cuda_graph_step.h). While capturing, host inputs (from_nchw's images, loss's labels,
  // sgd_update's learning rate) are read from pinned staging buffers that the graph copies from
  // at replay, and loss() returns zeros.
  StepGraph* step_graph() override;

  // Waits for all work of this backend (tests and benchmarks).
  void synchronize();
  size_t workspace_bytes() const;

 protected:
  float* allocate_memory(size_t count) override;
  void release_memory(float* p) noexcept override;

 private:
  // The weights a convolution on x uses: w itself (fp32), or w rounded into the 16-bit buffer.
  const float* weights_for(const ConvGeometry& g, const Tensor& x, const float* w);
  bool capturing() const;
  struct State;
  CudaOptions options_;
  std::unique_ptr<State> state_;
};

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options);

}  // namespace dasnet
