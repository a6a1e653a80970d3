// The fast CPU backend: oneDNN convolutions on the channel-blocked NCHW8c layout, and
// batchnorm / activation / pooling kernels written for that layout (one 8-lane vector per
// pixel, fused scale+shift+residual+ReLU, double-precision per-sample partial sums combined in a
// fixed order so results do not depend on thread timing). Everything else is inherited from the
// reference backend, whose simple loops are already memory-bound.
#pragma once
#include <memory>

#include "kernels/cpu_reference.h"

namespace dasnet {

class FastCpuBackend : public ReferenceCpuBackend {
 public:
  FastCpuBackend();
  ~FastCpuBackend() override;
  std::string name() const override { return "cpu"; }

  Layout activation_layout(int channels) const override;

  void conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) override;
  // Accumulating backward-data runs in chunks of samples through a small buffer.
  size_t conv_accumulate_scratch(const Shape& dx) const override;
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
  void global_avg_pool_forward(const Tensor& x, Tensor& y) override;
  void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) override;

 private:
  struct Convolutions;  // oneDNN engine, stream and primitive cache
  std::unique_ptr<Convolutions> conv_;
};

}  // namespace dasnet
