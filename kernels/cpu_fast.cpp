#include "kernels/cpu_fast.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "dasnet/build_config.h"
#include "kernels/cpu_bf16_kernels.h"
#include "kernels/cpu_blocked_kernels.h"
#include "kernels/cpu_isa.h"
#if DASNET_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace dasnet {

// ---------------------------------------------------------------------------------------
// Convolutions through oneDNN. Primitives are created once per (direction, geometry, shapes,
// layouts) and cached; weights are kept OIHW fp32 in the parameter buffer and reordered into the
// primitive's preferred blocked format (bf16 in bf16) on each call (they are small). Activations
// are used in place: fp32 in the ISA's channel-blocked layout, or in bf16 bf16 NHWC, which is
// what oneDNN's AMX convolutions read and write (fp32 accumulation; fp32 weight gradients).
// ---------------------------------------------------------------------------------------
#if DASNET_HAVE_DNNL
struct FastCpuBackend::Convolutions {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  bool bf16 = false;

  struct Forward {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    dnnl::memory weights;  // in the primitive's format
  };
  struct BackwardData {
    dnnl::convolution_backward_data::primitive_desc pd;
    dnnl::convolution_backward_data prim;
    dnnl::memory weights;
  };
  struct BackwardWeights {
    dnnl::convolution_backward_weights::primitive_desc pd;
    dnnl::convolution_backward_weights prim;
    dnnl::memory diff_weights;
  };
  std::map<std::string, Forward> forward;
  std::map<std::string, BackwardData> backward_data;
  std::map<std::string, BackwardWeights> backward_weights;

  static dnnl::memory::desc activation_desc(const Tensor& t) {
    auto tag = t.layout == Layout::NCHW16c  ? dnnl::memory::format_tag::nChw16c
               : t.layout == Layout::NCHW8c ? dnnl::memory::format_tag::nChw8c
               : t.layout == Layout::NHWC   ? dnnl::memory::format_tag::nhwc
                                            : dnnl::memory::format_tag::nchw;
    auto type = t.dtype == DType::BF16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
    return dnnl::memory::desc({t.shape.n, t.shape.c, t.shape.h, t.shape.w}, type, tag);
  }
  static dnnl::memory::desc weights_desc(const ConvGeometry& g, dnnl::memory::format_tag tag,
                                         dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
    return dnnl::memory::desc({g.out_channels, g.in_channels, g.kernel, g.kernel}, type, tag);
  }
  // The weights forward and backward-data read: fp32, or a bf16 copy, in oneDNN's format.
  dnnl::memory::desc input_weights_desc(const ConvGeometry& g) const {
    return weights_desc(g, dnnl::memory::format_tag::any,
                        bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32);
  }
  static std::string key(const ConvGeometry& g, const Tensor& x, const Tensor& y) {
    return std::to_string(g.in_channels) + "," + std::to_string(g.out_channels) + "," + std::to_string(g.kernel) +
           "," + std::to_string(g.stride) + "," + std::to_string(g.padding) + "|" + x.shape.str() + "/" +
           std::to_string(int(x.layout)) + dtype_name(x.dtype) + "|" + y.shape.str() + "/" +
           std::to_string(int(y.layout)) + dtype_name(y.dtype);
  }
  dnnl::convolution_forward::primitive_desc forward_pd(const ConvGeometry& g, const Tensor& x, const Tensor& y) {
    dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                      activation_desc(x), input_weights_desc(g), activation_desc(y), strides, pad,
                                      pad);
    return dnnl::convolution_forward::primitive_desc(d, engine);
  }
  // Copies OIHW user weights into `dst` (the primitive's format).
  void reorder_weights_in(const ConvGeometry& g, const float* w, dnnl::memory& dst) {
    dnnl::memory user(weights_desc(g, dnnl::memory::format_tag::oihw), engine, const_cast<float*>(w));
    if (dst.get_desc() == user.get_desc()) {
      dst = user;
      return;
    }
    dnnl::reorder(user, dst).execute(stream, user, dst);
  }
};
#else
struct FastCpuBackend::Convolutions {};
#endif

namespace {
// Caps oneDNN's JIT at the ISA our kernels use, so DASNET_CPU_ISA=avx2 tests the whole AVX2
// path (ONEDNN_MAX_CPU_ISA does the same for oneDNN alone). Must run before any primitive.
void limit_onednn_isa(CpuIsa isa) {
#if DASNET_HAVE_DNNL
  if (!cpu_isa_forced() || isa != cpu_isa()) return;  // tests that pick an ISA leave oneDNN alone
  dnnl_set_max_cpu_isa(isa == CpuIsa::Avx2 ? dnnl_cpu_isa_avx2 : dnnl_cpu_isa_sse41);
#else
  (void)isa;
#endif
}
}  // namespace

FastCpuBackend::FastCpuBackend(CpuIsa isa, bool bf16)
    : isa_(isa), bf16_(bf16), conv_(std::make_unique<Convolutions>()) {
  if (!cpu_isa_supported(isa_))
    throw std::runtime_error(std::string("fast CPU backend: this CPU cannot run ") + cpu_isa_name(isa_) + " kernels");
  if (bf16_ && (isa_ != CpuIsa::Avx512 || !cpu_has_avx512_bf16() || !DASNET_HAVE_DNNL))
    throw UsageError(
        "--precision bf16: the CPU backend's bf16 path needs avx512 kernels, a CPU with AVX512_BF16 and oneDNN");
  limit_onednn_isa(isa_);
#if DASNET_HAVE_DNNL
  conv_->bf16 = bf16_;
#endif
}
FastCpuBackend::~FastCpuBackend() = default;

Layout FastCpuBackend::activation_layout(int channels) const {
#if DASNET_HAVE_DNNL
  if (bf16_) return Layout::NHWC;  // what the AMX convolutions take, for any channel count
  const int block = cpu_channel_block(isa_);
  if (block == 1 || channels % block != 0) return Layout::NCHW;
  return block == 16 ? Layout::NCHW16c : Layout::NCHW8c;
#else
  (void)channels;
  return Layout::NCHW;
#endif
}

std::string FastCpuBackend::describe() const {
  return std::string("cpu isa=") + cpu_isa_name(isa_) + " layout=" + layout_name(activation_layout(256)) +
         (bf16_ ? " conv=bf16 activations=bf16" : "");
}


namespace {
// The pass table for a tensor's layout (its channel block).
const BlockedKernels& kernels_for(Layout layout) {
  switch (layout) {
    case Layout::NCHW16c: return blocked_kernels_avx512();
    case Layout::NCHW8c: return blocked_kernels_avx2();
    case Layout::NCHW: return blocked_kernels_generic();
    default: throw std::logic_error(std::string("fast CPU backend: no kernels for layout ") + layout_name(layout));
  }
}

// The stem's weight gradient (input of fewer channels than a block, plain NCHW, into a blocked
// output gradient): per-sample partial sums from the ISA kernel, combined in a fixed order.
void small_input_weight_gradient(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  const BlockedKernels& k = kernels_for(dy.layout);
  const int b = k.block, blocks = dy.shape.c / b;
  const size_t taps = size_t(x.shape.c) * g.kernel * g.kernel;
  std::vector<double> partial(size_t(dy.shape.n) * blocks * taps * b);
  k.small_input_weight_gradient(x.shape, dy.shape, g.kernel, g.stride, g.padding, x.data, dy.data, partial.data());
  for (int ob = 0; ob < blocks; ++ob)
    for (size_t t = 0; t < taps; ++t)
      for (int l = 0; l < b; ++l) {
        double sum = 0;
        for (int n = 0; n < dy.shape.n; ++n) sum += partial[((size_t(n) * blocks + ob) * taps + t) * b + l];
        dw[size_t(ob * b + l) * taps + t] = float(sum);  // OIHW: [oc][ic][kh][kw]
      }
}

// Per-channel totals [c][2] of per-sample partial sums, added over the batch in a fixed order.
std::vector<double> batch_totals(const Shape& s, const std::vector<double>& partial) {
  std::vector<double> totals(size_t(s.c) * 2, 0.0);
  for (int n = 0; n < s.n; ++n)
    for (size_t j = 0; j < totals.size(); ++j) totals[j] += partial[size_t(n) * s.c * 2 + j];
  return totals;
}

// The bf16 passes know one layout; a tensor in another is a bug of the caller.
void require_bf16_nhwc(const Tensor& t, const char* op) {
  if (t.layout != Layout::NHWC)
    throw std::logic_error(std::string("fast CPU backend: ") + op + " of a bf16 tensor in " + layout_name(t.layout) +
                           " (the bf16 passes take NHWC only)");
}

// A bf16 tensor's elements.
uint16_t* halves(const Tensor& t) { return reinterpret_cast<uint16_t*>(t.data); }
const uint16_t* halves_of(const Tensor* t) { return t ? halves(*t) : nullptr; }
uint16_t* halves_of(Tensor* t) { return t ? halves(*t) : nullptr; }
float widen(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Totals of d and d^2 per channel, d = x - first value of the channel (the shift keeps the
// float partial sums' digits when the mean is large against the spread); returns the shift.
std::vector<float> shifted_totals(const Tensor& x, std::vector<double>& totals) {
  const Shape& s = x.shape;
  std::vector<float> first(s.c);
  std::vector<double> partial(size_t(s.n) * s.c * 2);
  if (x.dtype == DType::BF16) {
    for (int c = 0; c < s.c; ++c) first[c] = widen(halves(x)[element_offset(s, x.layout, 0, c, 0, 0)]);
    bf16_kernels().shifted_moments(s, halves(x), first.data(), partial.data());
  } else {
    for (int c = 0; c < s.c; ++c) first[c] = x.data[element_offset(s, x.layout, 0, c, 0, 0)];
    kernels_for(x.layout).shifted_moments(s, x.data, first.data(), partial.data());
  }
  totals = batch_totals(s, partial);
  return first;
}
}  // namespace

#if DASNET_HAVE_DNNL
void FastCpuBackend::conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  auto& c = *conv_;
  std::string k = Convolutions::key(g, x, y);
  auto it = c.forward.find(k);
  if (it == c.forward.end()) {
    auto pd = c.forward_pd(g, x, y);
    it = c.forward.emplace(k, Convolutions::Forward{pd, dnnl::convolution_forward(pd),
                                                    dnnl::memory(pd.weights_desc(), c.engine)}).first;
  }
  auto& f = it->second;
  dnnl::memory weights = f.weights;
  c.reorder_weights_in(g, w, weights);
  dnnl::memory src(Convolutions::activation_desc(x), c.engine, x.data);
  dnnl::memory dst(Convolutions::activation_desc(y), c.engine, y.data);
  f.prim.execute(c.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  c.stream.wait();
}

namespace {
constexpr int kAccumulateChunk = 16;  // samples per backward-data call when accumulating

// `t` from sample `start` on (a 16-bit tensor's offset is in halves of a float).
float* sample_data(const Tensor& t, int start) {
  const size_t offset = t.shape.per_sample() * size_t(start);
  if (t.dtype == DType::F32) return t.data + offset;
  return reinterpret_cast<float*>(reinterpret_cast<uint16_t*>(t.data) + offset);
}
}  // namespace

size_t FastCpuBackend::conv_accumulate_scratch(const Shape& dx) const {
  return dx.per_sample() * size_t(std::min(dx.n, kAccumulateChunk));
}

void FastCpuBackend::conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                        bool accumulate, float* scratch) {
  if (accumulate) {
    // oneDNN cannot add into its output: run chunks of samples into scratch and add those.
    for (int start = 0; start < dx.shape.n; start += kAccumulateChunk) {
      const int n = std::min(kAccumulateChunk, dx.shape.n - start);
      Tensor dy_part = dy, dx_part = dx, out = dx;
      dy_part.shape.n = dx_part.shape.n = out.shape.n = n;
      dy_part.data = sample_data(dy, start);
      dx_part.data = sample_data(dx, start);
      out.data = scratch;
      conv_backward_data(g, dy_part, w, out, false, nullptr);
      pass_gradient(out, dx_part, true);
    }
    return;
  }
  auto& c = *conv_;
  std::string k = Convolutions::key(g, dx, dy);
  auto it = c.backward_data.find(k);
  if (it == c.backward_data.end()) {
    dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, Convolutions::activation_desc(dx),
                                            c.input_weights_desc(g), Convolutions::activation_desc(dy), strides,
                                            pad, pad);
    dnnl::convolution_backward_data::primitive_desc pd(d, c.engine, c.forward_pd(g, dx, dy));
    it = c.backward_data.emplace(k, Convolutions::BackwardData{pd, dnnl::convolution_backward_data(pd),
                                                              dnnl::memory(pd.weights_desc(), c.engine)}).first;
  }
  auto& b = it->second;
  dnnl::memory weights = b.weights;
  c.reorder_weights_in(g, w, weights);
  dnnl::memory diff_dst(Convolutions::activation_desc(dy), c.engine, dy.data);
  dnnl::memory diff_src(Convolutions::activation_desc(dx), c.engine, dx.data);
  b.prim.execute(c.stream, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src}});
  c.stream.wait();
}

void FastCpuBackend::conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  if (x.layout == Layout::NCHW && dy.layout != Layout::NCHW && x.shape.c < channel_block(dy.layout))
    return small_input_weight_gradient(g, x, dy, dw);
  auto& c = *conv_;
  std::string k = Convolutions::key(g, x, dy);
  auto it = c.backward_weights.find(k);
  if (it == c.backward_weights.end()) {
    dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, Convolutions::activation_desc(x),
                                               Convolutions::weights_desc(g, dnnl::memory::format_tag::any),
                                               Convolutions::activation_desc(dy), strides, pad, pad);
    dnnl::convolution_backward_weights::primitive_desc pd(d, c.engine, c.forward_pd(g, x, dy));
    it = c.backward_weights.emplace(k, Convolutions::BackwardWeights{pd, dnnl::convolution_backward_weights(pd),
                                                                    dnnl::memory(pd.diff_weights_desc(), c.engine)})
             .first;
  }
  auto& b = it->second;
  dnnl::memory user(Convolutions::weights_desc(g, dnnl::memory::format_tag::oihw), c.engine, dw);
  bool direct = b.diff_weights.get_desc() == user.get_desc();
  dnnl::memory diff_weights = direct ? user : b.diff_weights;
  dnnl::memory src(Convolutions::activation_desc(x), c.engine, x.data);
  dnnl::memory diff_dst(Convolutions::activation_desc(dy), c.engine, dy.data);
  b.prim.execute(c.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights}});
  if (!direct) dnnl::reorder(diff_weights, user).execute(c.stream, diff_weights, user);
  c.stream.wait();
}
#else
size_t FastCpuBackend::conv_accumulate_scratch(const Shape& dx) const {
  return ReferenceCpuBackend::conv_accumulate_scratch(dx);  // the reference accumulates in place
}
void FastCpuBackend::conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  ReferenceCpuBackend::conv_forward(g, x, w, y);
}
void FastCpuBackend::conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                        bool accumulate, float* scratch) {
  ReferenceCpuBackend::conv_backward_data(g, dy, w, dx, accumulate, scratch);
}
void FastCpuBackend::conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  ReferenceCpuBackend::conv_backward_weights(g, x, dy, dw);
}
#endif

// ---------------------------------------------------------------------------------------
// Per-channel passes: the memory-bound loops run in the ISA unit of the tensor's layout
// (cpu_blocked_*.cpp); the per-channel arithmetic around them is here.
// ---------------------------------------------------------------------------------------
void FastCpuBackend::channel_statistics(const Tensor& x, float* mean, float* var) {
  const Shape& s = x.shape;
  const double count = double(s.n) * s.h * s.w;
  if (count == 0) {
    std::fill(mean, mean + s.c, 0.0f);
    std::fill(var, var + s.c, 0.0f);
    return;
  }
  std::vector<double> totals;
  std::vector<float> first = shifted_totals(x, totals);
  for (int c = 0; c < s.c; ++c) {
    const double mean_d = totals[c * 2] / count;
    mean[c] = float(first[c] + mean_d);
    var[c] = float(std::max(totals[c * 2 + 1] / count - mean_d * mean_d, 0.0));
  }
}

// Sums of x and x^2 in double, from the shifted sums.
void FastCpuBackend::channel_sums(const Tensor& x, double* sums_host) {
  const Shape& s = x.shape;
  if (s.n == 0 || s.h * s.w == 0) {
    std::fill(sums_host, sums_host + size_t(s.c) * 2, 0.0);
    return;
  }
  std::vector<double> totals;
  std::vector<float> first = shifted_totals(x, totals);
  const double count = double(s.n) * s.h * s.w;
  for (int c = 0; c < s.c; ++c) {
    const double k = first[c], sum_d = totals[c * 2], sum_d2 = totals[c * 2 + 1];
    sums_host[c] = sum_d + count * k;
    sums_host[s.c + c] = sum_d2 + 2 * k * sum_d + count * k * k;
  }
}

void FastCpuBackend::scale_shift_activate(const Tensor& x, const float* scale, const float* shift,
                                          const Tensor* residual, bool relu, Tensor& y) {
  if (x.dtype == DType::BF16)
    return bf16_kernels().scale_shift_activate(x.shape, halves(x), scale, shift, halves_of(residual), relu,
                                               halves(y));
  kernels_for(x.layout).scale_shift_activate(x.shape, x.data, scale, shift, residual ? residual->data : nullptr,
                                             relu, y.data);
}

void FastCpuBackend::batchnorm_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x,
                                        const float* mean, const float* invstd, const float* gamma, Tensor& dx,
                                        float* dgamma, float* dbeta, Tensor* dresidual, bool accumulate_residual,
                                        ChannelReducer* reducer) {
  const Shape& s = x.shape;
  const bool bf16 = x.dtype == DType::BF16;
  const BlockedKernels& k = kernels_for(bf16 ? Layout::NCHW : x.layout);
  const float* relu_out = relu_output ? relu_output->data : nullptr;
  std::vector<double> partial(size_t(s.n) * s.c * 2);
  if (bf16)
    bf16_kernels().batchnorm_backward_sums(s, halves(dy), halves_of(relu_output), halves(x), mean, partial.data());
  else
    k.batchnorm_backward_sums(s, dy.data, relu_out, x.data, mean, partial.data());
  std::vector<double> totals = batch_totals(s, partial);
  double count = double(s.n) * s.h * s.w;
  for (int c = 0; c < s.c; ++c) {
    dbeta[c] = float(totals[c * 2]);
    dgamma[c] = float(totals[c * 2 + 1] * invstd[c]);
  }
  if (reducer) count = sum_with_count(*reducer, totals, count);
  std::vector<float> k_dx(s.c), k_mean_g(s.c), k_xhat(s.c);
  for (int c = 0; c < s.c; ++c) {
    double sum_g = totals[c * 2], sum_gx = totals[c * 2 + 1] * invstd[c];
    // dx = gamma*invstd*(g - sum_g/M - xhat*sum_gx/M), with xhat = (x - mean)*invstd.
    k_dx[c] = gamma[c] * invstd[c];
    k_mean_g[c] = float(sum_g / count);
    k_xhat[c] = float(sum_gx / count * invstd[c]);
  }
  if (bf16)
    return bf16_kernels().batchnorm_backward_apply(s, halves(dy), halves_of(relu_output), halves(x), mean,
                                                   k_dx.data(), k_mean_g.data(), k_xhat.data(), halves(dx),
                                                   halves_of(dresidual), accumulate_residual);
  k.batchnorm_backward_apply(s, dy.data, relu_out, x.data, mean, k_dx.data(), k_mean_g.data(), k_xhat.data(),
                             dx.data, dresidual ? dresidual->data : nullptr, accumulate_residual);
}

void FastCpuBackend::global_avg_pool_forward(const Tensor& x, Tensor& y) {
  if (x.dtype == DType::BF16) return bf16_kernels().pool_forward(x.shape, halves(x), y.data);
  kernels_for(x.layout).pool_forward(x.shape, x.data, y.data);
}

void FastCpuBackend::global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) {
  if (dx.dtype == DType::BF16) return bf16_kernels().pool_backward(dx.shape, dy.data, halves(dx), accumulate);
  kernels_for(dx.layout).pool_backward(dx.shape, dy.data, dx.data, accumulate);
}

// ---------------------------------------------------------------------------------------
// Host transfers and element-wise ops: fp32 tensors take the reference backend's loops.
// ---------------------------------------------------------------------------------------
void FastCpuBackend::from_nchw(const float* host_nchw, Tensor& dst) {
  if (dst.dtype != DType::BF16) return ReferenceCpuBackend::from_nchw(host_nchw, dst);
  require_bf16_nhwc(dst, "from_nchw");
  bf16_kernels().from_nchw(dst.shape, host_nchw, halves(dst));
}

void FastCpuBackend::to_nchw(const Tensor& src, float* host_nchw) {
  if (src.dtype != DType::BF16) return ReferenceCpuBackend::to_nchw(src, host_nchw);
  require_bf16_nhwc(src, "to_nchw");
  bf16_kernels().to_nchw(src.shape, halves(src), host_nchw);
}

void FastCpuBackend::relu_forward(const Tensor& x, Tensor& y) {
  if (x.dtype != DType::BF16) return ReferenceCpuBackend::relu_forward(x, y);
  bf16_kernels().relu_forward(x.numel(), halves(x), halves(y));
}

void FastCpuBackend::relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) {
  if (dy.dtype != DType::BF16) return ReferenceCpuBackend::relu_backward(dy, y, dx, accumulate);
  bf16_kernels().relu_backward(dy.numel(), halves(dy), halves(y), halves(dx), accumulate);
}

void FastCpuBackend::pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) {
  if (src.dtype != DType::BF16) return ReferenceCpuBackend::pass_gradient(src, dst, accumulate);
  if (!accumulate) {
    if (src.data != dst.data) std::memcpy(dst.data, src.data, src.numel() * sizeof(uint16_t));
    return;
  }
  bf16_kernels().add(src.numel(), halves(dst), halves(src), halves(dst));
}

void FastCpuBackend::add(const Tensor& a, const Tensor& b, Tensor& y) {
  if (a.dtype != DType::BF16) return ReferenceCpuBackend::add(a, b, y);
  bf16_kernels().add(a.numel(), halves(a), halves(b), halves(y));
}

}  // namespace dasnet
