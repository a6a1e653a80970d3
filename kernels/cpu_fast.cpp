#include "kernels/cpu_fast.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "dasnet/build_config.h"
#if DASNET_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace dasnet {

// ---------------------------------------------------------------------------------------
// Convolutions through oneDNN. Primitives are created once per (direction, geometry, shapes,
// layouts) and cached; weights are kept OIHW in the parameter buffer and reordered into the
// primitive's preferred blocked format on each call (they are small).
// ---------------------------------------------------------------------------------------
#if DASNET_HAVE_DNNL
struct FastCpuBackend::Convolutions {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};

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
    auto tag = t.layout == Layout::NCHW8c ? dnnl::memory::format_tag::nChw8c : dnnl::memory::format_tag::nchw;
    return dnnl::memory::desc({t.shape.n, t.shape.c, t.shape.h, t.shape.w}, dnnl::memory::data_type::f32, tag);
  }
  static dnnl::memory::desc weights_desc(const ConvGeometry& g, dnnl::memory::format_tag tag) {
    return dnnl::memory::desc({g.out_channels, g.in_channels, g.kernel, g.kernel}, dnnl::memory::data_type::f32, tag);
  }
  static std::string key(const ConvGeometry& g, const Tensor& x, const Tensor& y) {
    return std::to_string(g.in_channels) + "," + std::to_string(g.out_channels) + "," + std::to_string(g.kernel) +
           "," + std::to_string(g.stride) + "," + std::to_string(g.padding) + "|" + x.shape.str() + "/" +
           std::to_string(int(x.layout)) + "|" + y.shape.str() + "/" + std::to_string(int(y.layout));
  }
  dnnl::convolution_forward::primitive_desc forward_pd(const ConvGeometry& g, const Tensor& x, const Tensor& y) {
    dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                      activation_desc(x), weights_desc(g, dnnl::memory::format_tag::any),
                                      activation_desc(y), strides, pad, pad);
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

FastCpuBackend::FastCpuBackend() : conv_(std::make_unique<Convolutions>()) {}
FastCpuBackend::~FastCpuBackend() = default;

Layout FastCpuBackend::activation_layout(int channels) const {
#if DASNET_HAVE_DNNL
  return channels % 8 == 0 ? Layout::NCHW8c : Layout::NCHW;
#else
  (void)channels;
  return Layout::NCHW;
#endif
}


// Weight gradient of a convolution whose input has fewer than 8 channels (the stem, on 1- or
// 3-channel images) into an NCHW8c output gradient. oneDNN 2.x has no JIT kernel for this case
// and falls back to a reference loop that costs seconds per batch; here each output pixel is
// K*K*C broadcast multiply-adds of one 8-lane vector. Per-sample partial sums, combined in a
// fixed order, keep it deterministic.
namespace {
void small_input_weight_gradient(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  const Shape& xs = x.shape;
  const Shape& ys = dy.shape;
  const int k = g.kernel, ic_count = xs.c, blocks = ys.c / 8;
  const size_t taps = size_t(ic_count) * k * k;
  std::vector<double> partial(size_t(ys.n) * blocks * taps * 8, 0.0);
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < ys.n; ++n)
    for (int ob = 0; ob < blocks; ++ob) {
      double* acc = &partial[((size_t(n) * blocks + ob) * taps) * 8];
      const float* d = dy.data + (size_t(n) * blocks + ob) * ys.h * ys.w * 8;
      for (int oh = 0; oh < ys.h; ++oh) {
        for (int ic = 0; ic < ic_count; ++ic)
          for (int kh = 0; kh < k; ++kh) {
            const int ih = oh * g.stride - g.padding + kh;
            if (ih < 0 || ih >= xs.h) continue;
            const float* xrow = x.data + ((size_t(n) * ic_count + ic) * xs.h + ih) * xs.w;
            for (int kw = 0; kw < k; ++kw) {
              float row[8] = {};
              for (int ow = 0; ow < ys.w; ++ow) {
                const int iw = ow * g.stride - g.padding + kw;
                if (iw < 0 || iw >= xs.w) continue;
                const float xv = xrow[iw];
                const float* dv = d + (size_t(oh) * ys.w + ow) * 8;
                for (int l = 0; l < 8; ++l) row[l] += xv * dv[l];
              }
              double* a = acc + ((size_t(ic) * k + kh) * k + kw) * 8;
              for (int l = 0; l < 8; ++l) a[l] += row[l];
            }
          }
      }
    }
  for (int ob = 0; ob < blocks; ++ob)
    for (size_t t = 0; t < taps; ++t)
      for (int l = 0; l < 8; ++l) {
        double sum = 0;
        for (int n = 0; n < ys.n; ++n) sum += partial[((size_t(n) * blocks + ob) * taps + t) * 8 + l];
        dw[size_t(ob * 8 + l) * taps + t] = float(sum);  // OIHW: [oc][ic][kh][kw]
      }
}
}  // namespace

#if DASNET_HAVE_DNNL
void FastCpuBackend::conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  auto& c = *conv_;
  std::string k = Convolutions::key(g, x, y);
  auto it = c.forward.find(k);
  if (it == c.forward.end()) {
    auto pd = c.forward_pd(g, x, y);
    it = c.forward.emplace(k, Convolutions::Forward{pd, dnnl::convolution_forward(pd), dnnl::memory(pd.weights_desc(), c.engine)}).first;
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
}

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
      dy_part.data += dy.shape.per_sample() * start;
      dx_part.data += dx.shape.per_sample() * start;
      out.data = scratch;
      conv_backward_data(g, dy_part, w, out, false, nullptr);
      const size_t count = out.numel();
#pragma omp parallel for schedule(static)
      for (size_t i = 0; i < count; ++i) dx_part.data[i] += scratch[i];
    }
    return;
  }
  auto& c = *conv_;
  std::string k = Convolutions::key(g, dx, dy);
  auto it = c.backward_data.find(k);
  if (it == c.backward_data.end()) {
    dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, Convolutions::activation_desc(dx),
                                            Convolutions::weights_desc(g, dnnl::memory::format_tag::any),
                                            Convolutions::activation_desc(dy), strides, pad, pad);
    dnnl::convolution_backward_data::primitive_desc pd(d, c.engine, c.forward_pd(g, dx, dy));
    it = c.backward_data.emplace(k, Convolutions::BackwardData{pd, dnnl::convolution_backward_data(pd), dnnl::memory(pd.weights_desc(), c.engine)}).first;
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
  if (x.layout == Layout::NCHW && dy.layout == Layout::NCHW8c && x.shape.c < 8)
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
    it = c.backward_weights.emplace(k, Convolutions::BackwardWeights{pd, dnnl::convolution_backward_weights(pd), dnnl::memory(pd.diff_weights_desc(), c.engine)}).first;
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
// Per-channel kernels on [N][C/B][HW][B] (B = 8 for NCHW8c, 1 for NCHW).
// ---------------------------------------------------------------------------------------
namespace {

template <int B>
struct Blocked {
  const Shape& s;
  size_t hw() const { return size_t(s.h) * s.w; }
  int blocks() const { return s.c / B; }
  // First element of (n, channel block cb).
  size_t base(int n, int cb) const { return (size_t(n) * blocks() + cb) * hw() * B; }
};

// Two per-channel sums over the pixels of every sample: float partial sums over runs of 256
// pixels (one 8-lane vector each, so the loop vectorizes), added into double per sample, then a
// fixed-order sum over the batch (deterministic whatever the thread timing).
template <int B, typename PerPixel>
void channel_sums(const Shape& s, PerPixel per_pixel, std::vector<double>& totals) {
  constexpr size_t kRun = 256;
  Blocked<B> t{s};
  const int nb = t.blocks();
  std::vector<double> partial(size_t(s.n) * s.c * 2, 0.0);
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int cb = 0; cb < nb; ++cb) {
      double total[2][B] = {};
      const size_t base = t.base(n, cb), hw = t.hw();
      for (size_t start = 0; start < hw; start += kRun) {
        float acc[2][B] = {};
        const size_t end = std::min(hw, start + kRun);
        for (size_t p = start; p < end; ++p) per_pixel(base + p * B, cb, acc);
        for (int term = 0; term < 2; ++term)
          for (int l = 0; l < B; ++l) total[term][l] += acc[term][l];
      }
      for (int term = 0; term < 2; ++term)
        for (int l = 0; l < B; ++l) partial[(size_t(n) * s.c + cb * B + l) * 2 + term] = total[term][l];
    }
  totals.assign(size_t(s.c) * 2, 0.0);
  for (int n = 0; n < s.n; ++n)
    for (size_t j = 0; j < totals.size(); ++j) totals[j] += partial[size_t(n) * s.c * 2 + j];
}

template <int B>
void statistics(const Tensor& x, float* mean, float* var) {
  const Shape& s = x.shape;
  std::vector<double> totals;
  const float* xd = x.data;
  channel_sums<B>(s, [&](size_t i, int, float (*acc)[B]) {
    for (int l = 0; l < B; ++l) {
      float v = xd[i + l];
      acc[0][l] += v;
      acc[1][l] += v * v;
    }
  }, totals);
  const double count = double(s.n) * s.h * s.w;
  for (int c = 0; c < s.c; ++c) {
    double m = totals[c * 2] / count;
    mean[c] = float(m);
    var[c] = float(std::max(totals[c * 2 + 1] / count - m * m, 0.0));
  }
}

// Sums of x and x^2 in double. Summed as deviations from each channel's first value, so the
// float partial sums keep their digits when the mean is large against the spread.
template <int B>
void raw_sums(const Tensor& x, double* sums_host) {
  const Shape& s = x.shape;
  if (s.n == 0 || s.h * s.w == 0) {
    std::fill(sums_host, sums_host + size_t(s.c) * 2, 0.0);
    return;
  }
  const float* xd = x.data;
  std::vector<float> first(s.c);
  for (int c = 0; c < s.c; ++c) first[c] = xd[Blocked<B>{s}.base(0, c / B) + c % B];
  std::vector<double> totals;
  channel_sums<B>(s, [&](size_t i, int cb, float (*acc)[B]) {
    for (int l = 0; l < B; ++l) {
      float d = xd[i + l] - first[cb * B + l];
      acc[0][l] += d;
      acc[1][l] += d * d;
    }
  }, totals);
  const double count = double(s.n) * s.h * s.w;
  for (int c = 0; c < s.c; ++c) {
    const double k = first[c], sum_d = totals[c * 2], sum_d2 = totals[c * 2 + 1];
    sums_host[c] = sum_d + count * k;
    sums_host[s.c + c] = sum_d2 + 2 * k * sum_d + count * k * k;
  }
}

template <int B>
void apply(const Tensor& x, const float* scale, const float* shift, const Tensor* residual, bool relu, Tensor& y) {
  Blocked<B> t{x.shape};
  const float* res = residual ? residual->data : nullptr;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < x.shape.n; ++n)
    for (int cb = 0; cb < t.blocks(); ++cb) {
      float sc[B], sh[B];
      for (int l = 0; l < B; ++l) sc[l] = scale[cb * B + l], sh[l] = shift[cb * B + l];
      size_t i = t.base(n, cb);
      for (size_t p = 0; p < t.hw(); ++p, i += B)
        for (int l = 0; l < B; ++l) {
          float v = x.data[i + l] * sc[l] + sh[l];
          if (res) v += res[i + l];
          y.data[i + l] = relu ? std::max(v, 0.0f) : v;
        }
    }
}

template <int B>
void bn_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x, const float* mean,
                 const float* invstd, const float* gamma, Tensor& dx, float* dgamma, float* dbeta,
                 Tensor* dresidual, bool accumulate_residual, ChannelReducer* reducer) {
  const Shape& s = x.shape;
  const float* yd = relu_output ? relu_output->data : nullptr;
  const float* g = dy.data;
  const float* xd = x.data;
  std::vector<double> totals;
  channel_sums<B>(s, [&](size_t i, int cb, float (*acc)[B]) {
    for (int l = 0; l < B; ++l) {
      float gi = (yd && yd[i + l] <= 0.0f) ? 0.0f : g[i + l];
      acc[0][l] += gi;
      acc[1][l] += gi * (xd[i + l] - mean[cb * B + l]);
    }
  }, totals);
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
  Blocked<B> t{s};
  float* dr = dresidual ? dresidual->data : nullptr;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int cb = 0; cb < t.blocks(); ++cb) {
      float a[B], mg[B], kx[B], mu[B];
      for (int l = 0; l < B; ++l) {
        int c = cb * B + l;
        a[l] = k_dx[c], mg[l] = k_mean_g[c], kx[l] = k_xhat[c], mu[l] = mean[c];
      }
      size_t i = t.base(n, cb);
      for (size_t p = 0; p < t.hw(); ++p, i += B)
        for (int l = 0; l < B; ++l) {
          float gi = (yd && yd[i + l] <= 0.0f) ? 0.0f : g[i + l];
          dx.data[i + l] = a[l] * (gi - mg[l] - (xd[i + l] - mu[l]) * kx[l]);
          if (dr) dr[i + l] = accumulate_residual ? dr[i + l] + gi : gi;
        }
    }
}

template <int B>
void pool_forward(const Tensor& x, Tensor& y) {
  Blocked<B> t{x.shape};
  const float inv = 1.0f / float(t.hw());
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < x.shape.n; ++n)
    for (int cb = 0; cb < t.blocks(); ++cb) {
      double acc[B] = {};
      size_t i = t.base(n, cb);
      for (size_t p = 0; p < t.hw(); ++p, i += B)
        for (int l = 0; l < B; ++l) acc[l] += x.data[i + l];
      for (int l = 0; l < B; ++l) y.data[size_t(n) * x.shape.c + cb * B + l] = float(acc[l]) * inv;
    }
}

template <int B>
void pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) {
  Blocked<B> t{dx.shape};
  const float inv = 1.0f / float(t.hw());
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < dx.shape.n; ++n)
    for (int cb = 0; cb < t.blocks(); ++cb) {
      float g[B];
      for (int l = 0; l < B; ++l) g[l] = dy.data[size_t(n) * dx.shape.c + cb * B + l] * inv;
      size_t i = t.base(n, cb);
      for (size_t p = 0; p < t.hw(); ++p, i += B)
        for (int l = 0; l < B; ++l) dx.data[i + l] = accumulate ? dx.data[i + l] + g[l] : g[l];
    }
}

}  // namespace

void FastCpuBackend::channel_statistics(const Tensor& x, float* mean, float* var) {
  x.layout == Layout::NCHW8c ? statistics<8>(x, mean, var) : statistics<1>(x, mean, var);
}

void FastCpuBackend::channel_sums(const Tensor& x, double* sums_host) {
  x.layout == Layout::NCHW8c ? raw_sums<8>(x, sums_host) : raw_sums<1>(x, sums_host);
}

void FastCpuBackend::scale_shift_activate(const Tensor& x, const float* scale, const float* shift,
                                          const Tensor* residual, bool relu, Tensor& y) {
  x.layout == Layout::NCHW8c ? apply<8>(x, scale, shift, residual, relu, y)
                             : apply<1>(x, scale, shift, residual, relu, y);
}

void FastCpuBackend::batchnorm_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x,
                                        const float* mean, const float* invstd, const float* gamma, Tensor& dx,
                                        float* dgamma, float* dbeta, Tensor* dresidual, bool accumulate_residual,
                                        ChannelReducer* reducer) {
  if (x.layout == Layout::NCHW8c)
    bn_backward<8>(dy, relu_output, x, mean, invstd, gamma, dx, dgamma, dbeta, dresidual, accumulate_residual,
                   reducer);
  else
    bn_backward<1>(dy, relu_output, x, mean, invstd, gamma, dx, dgamma, dbeta, dresidual, accumulate_residual,
                   reducer);
}

void FastCpuBackend::global_avg_pool_forward(const Tensor& x, Tensor& y) {
  x.layout == Layout::NCHW8c ? pool_forward<8>(x, y) : pool_forward<1>(x, y);
}

void FastCpuBackend::global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) {
  dx.layout == Layout::NCHW8c ? pool_backward<8>(dy, dx, accumulate) : pool_backward<1>(dy, dx, accumulate);
}

}  // namespace dasnet
