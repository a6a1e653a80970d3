// The reference CPU backend: plain NCHW loops, written to be obviously correct rather than
// fast. Tests measure every other backend against it.
#pragma once
#include "core/backend.h"

namespace dasnet {

class ReferenceCpuBackend : public Backend {
 public:
  std::string name() const override { return "reference"; }

  void copy_to_host(float* host, const float* src, size_t count) override;
  void copy_from_host(float* dst, const float* host, size_t count) override;
  void copy(float* dst, const float* src, size_t count) override;
  void fill(float* dst, size_t count, float value) override;

  Layout activation_layout(int) const override { return Layout::NCHW; }
  void from_nchw(const float* host_nchw, Tensor& dst) override;
  void to_nchw(const Tensor& src, float* host_nchw) override;

  void conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) override;
  size_t conv_accumulate_scratch(const Shape&) const override { return 0; }  // accumulates in place
  void conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx, bool accumulate,
                          float* scratch) override;
  void conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) override;

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

  LossTotals loss(OutputMode mode, const Tensor& logits, const int* labels_host, Tensor* dlogits,
                  Tensor* probabilities) override;

  void sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr, float momentum,
                  float weight_decay, bool nesterov) override;
  double sum_squares(const float* x, size_t count) override;

 protected:
  float* allocate_memory(size_t count) override;
  void release_memory(float* p) noexcept override;
};

// Index of element (n, c, h, w) in a tensor of shape s stored with layout l.
inline size_t element_offset(const Shape& s, Layout l, int n, int c, int h, int w) {
  if (l == Layout::NCHW) return ((size_t(n) * s.c + c) * s.h + h) * s.w + w;
  if (l == Layout::NHWC) return ((size_t(n) * s.h + h) * s.w + w) * s.c + c;
  const int b = channel_block(l);
  return (((size_t(n) * (s.c / b) + c / b) * s.h + h) * s.w + w) * b + (c % b);
}

}  // namespace dasnet
