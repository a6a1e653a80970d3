// The fast CPU backend: oneDNN convolutions on the channel-blocked layout of the CPU's ISA
// found at run time (NCHW16c on AVX-512, NCHW8c on AVX2; kernels/cpu_isa.h), and batchnorm /
// activation / pooling kernels written for that layout (one vector per pixel, compiled per ISA
// in kernels/cpu_blocked_*.cpp, fused scale+shift+residual+ReLU, double-precision per-sample partial sums combined in a
// fixed order so results do not depend on thread timing). Everything else is inherited from the
// reference backend, whose simple loops are already memory-bound. In bf16 (--precision bf16)
// activations are bf16 NHWC instead and the passes are kernels/cpu_bf16_kernels.h.
#pragma once
#include <memory>

#include "kernels/cpu_isa.h"
#include "kernels/cpu_reference.h"

namespace dasnet {

class FastCpuBackend : public ReferenceCpuBackend {
 public:
  // Runs the kernels of `isa` (tests pick each one the CPU supports); throws if it cannot.
  // bf16: activations and their gradients are bf16 NHWC (kernels/cpu_bf16_kernels.h), the
  // convolutions read bf16 copies of the fp32 weights and accumulate in fp32 (oneDNN, AMX where
  // the CPU has it); parameters, their gradients, statistics, pooled features and logits stay
  // fp32. Needs AVX512_BF16.
  explicit FastCpuBackend(CpuIsa isa = cpu_isa(), bool bf16 = false);
  ~FastCpuBackend() override;
  std::string name() const override { return "cpu"; }
  // "cpu isa=avx512 layout=nchw16c": what this process runs (printed by the benchmarks).
  std::string describe() const override;
  CpuIsa isa() const { return isa_; }

  Layout activation_layout(int channels) const override;
  DType activation_dtype() const override { return bf16_ ? DType::BF16 : DType::F32; }
  void from_nchw(const float* host_nchw, Tensor& dst) override;
  void to_nchw(const Tensor& src, float* host_nchw) override;

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
  void relu_forward(const Tensor& x, Tensor& y) override;
  void relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) override;
  void pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) override;
  void add(const Tensor& a, const Tensor& b, Tensor& y) override;
  void global_avg_pool_forward(const Tensor& x, Tensor& y) override;
  void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) override;

 private:
  CpuIsa isa_;
  bool bf16_;
  struct Convolutions;  // oneDNN engine, stream and primitive cache
  std::unique_ptr<Convolutions> conv_;
};

}  // namespace dasnet
