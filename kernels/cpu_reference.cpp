#include "kernels/cpu_reference.h"

#include "kernels/cpu_loss.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace dasnet {

namespace {
void require_nchw(const Tensor& t, const char* op) {
  if (t.layout != Layout::NCHW) throw std::logic_error(std::string(op) + ": reference backend needs NCHW tensors");
}
}  // namespace

// A training plan's arena is gigabytes touched by every step: on 4 KiB pages its first touch
// alone is ~800,000 page faults (seconds of system time) and every step walks the TLB. Large
// blocks are aligned to and advised as 2 MiB transparent huge pages (where the kernel allows it).
float* ReferenceCpuBackend::allocate_memory(size_t count) {
  constexpr size_t kHugePage = size_t(2) << 20;
  const bool huge = count * sizeof(float) >= kHugePage;
  const size_t alignment = huge ? kHugePage : 64;
  size_t bytes = ((count * sizeof(float) + alignment - 1) / alignment) * alignment;
  if (bytes == 0) bytes = 64;
  void* p = std::aligned_alloc(alignment, bytes);
  if (!p) throw std::runtime_error("out of host memory allocating " + std::to_string(bytes >> 20) + " MiB");
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without THP the pages stay 4 KiB
  std::memset(p, 0, bytes);
  return static_cast<float*>(p);
}
void ReferenceCpuBackend::release_memory(float* p) noexcept { std::free(p); }
void ReferenceCpuBackend::copy_to_host(float* host, const float* src, size_t count) {
  if (count) std::memcpy(host, src, count * sizeof(float));
}
void ReferenceCpuBackend::copy_from_host(float* dst, const float* host, size_t count) {
  if (count) std::memcpy(dst, host, count * sizeof(float));
}
void ReferenceCpuBackend::copy(float* dst, const float* src, size_t count) {
  if (count && dst != src) std::memcpy(dst, src, count * sizeof(float));
}
void ReferenceCpuBackend::fill(float* dst, size_t count, float value) { std::fill(dst, dst + count, value); }

void ReferenceCpuBackend::from_nchw(const float* host, Tensor& dst) {
  const Shape& s = dst.shape;
#pragma omp parallel for collapse(2)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w)
          dst.data[element_offset(s, dst.layout, n, c, h, w)] = host[element_offset(s, Layout::NCHW, n, c, h, w)];
}

void ReferenceCpuBackend::to_nchw(const Tensor& src, float* host) {
  const Shape& s = src.shape;
#pragma omp parallel for collapse(2)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w)
          host[element_offset(s, Layout::NCHW, n, c, h, w)] = src.data[element_offset(s, src.layout, n, c, h, w)];
}

void ReferenceCpuBackend::conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  require_nchw(x, "conv_forward");
  const Shape& xs = x.shape;
  const Shape& ys = y.shape;
  const int k = g.kernel;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < ys.n; ++n)
    for (int oc = 0; oc < ys.c; ++oc)
      for (int oh = 0; oh < ys.h; ++oh)
        for (int ow = 0; ow < ys.w; ++ow) {
          double acc = 0;
          for (int ic = 0; ic < xs.c; ++ic)
            for (int kh = 0; kh < k; ++kh) {
              int ih = oh * g.stride - g.padding + kh;
              if (ih < 0 || ih >= xs.h) continue;
              for (int kw = 0; kw < k; ++kw) {
                int iw = ow * g.stride - g.padding + kw;
                if (iw < 0 || iw >= xs.w) continue;
                acc += double(x.data[((size_t(n) * xs.c + ic) * xs.h + ih) * xs.w + iw]) *
                       w[((size_t(oc) * xs.c + ic) * k + kh) * k + kw];
              }
            }
          y.data[((size_t(n) * ys.c + oc) * ys.h + oh) * ys.w + ow] = float(acc);
        }
}

void ReferenceCpuBackend::conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                             bool accumulate, float*) {
  require_nchw(dy, "conv_backward_data");
  const Shape& xs = dx.shape;
  const Shape& ys = dy.shape;
  const int k = g.kernel;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < xs.n; ++n)
    for (int ic = 0; ic < xs.c; ++ic)
      for (int ih = 0; ih < xs.h; ++ih)
        for (int iw = 0; iw < xs.w; ++iw) {
          double acc = 0;
          for (int oc = 0; oc < ys.c; ++oc)
            for (int kh = 0; kh < k; ++kh) {
              int t = ih + g.padding - kh;
              if (t < 0 || t % g.stride) continue;
              int oh = t / g.stride;
              if (oh >= ys.h) continue;
              for (int kw = 0; kw < k; ++kw) {
                int u = iw + g.padding - kw;
                if (u < 0 || u % g.stride) continue;
                int ow = u / g.stride;
                if (ow >= ys.w) continue;
                acc += double(dy.data[((size_t(n) * ys.c + oc) * ys.h + oh) * ys.w + ow]) *
                       w[((size_t(oc) * xs.c + ic) * k + kh) * k + kw];
              }
            }
          float& out = dx.data[((size_t(n) * xs.c + ic) * xs.h + ih) * xs.w + iw];
          out = accumulate ? out + float(acc) : float(acc);
        }
}

void ReferenceCpuBackend::conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  require_nchw(x, "conv_backward_weights");
  const Shape& xs = x.shape;
  const Shape& ys = dy.shape;
  const int k = g.kernel;
#pragma omp parallel for collapse(2) schedule(static)
  for (int oc = 0; oc < ys.c; ++oc)
    for (int ic = 0; ic < xs.c; ++ic)
      for (int kh = 0; kh < k; ++kh)
        for (int kw = 0; kw < k; ++kw) {
          double acc = 0;
          for (int n = 0; n < ys.n; ++n)
            for (int oh = 0; oh < ys.h; ++oh) {
              int ih = oh * g.stride - g.padding + kh;
              if (ih < 0 || ih >= xs.h) continue;
              for (int ow = 0; ow < ys.w; ++ow) {
                int iw = ow * g.stride - g.padding + kw;
                if (iw < 0 || iw >= xs.w) continue;
                acc += double(dy.data[((size_t(n) * ys.c + oc) * ys.h + oh) * ys.w + ow]) *
                       x.data[((size_t(n) * xs.c + ic) * xs.h + ih) * xs.w + iw];
              }
            }
          dw[((size_t(oc) * xs.c + ic) * k + kh) * k + kw] = float(acc);
        }
}

void ReferenceCpuBackend::channel_statistics(const Tensor& x, float* mean, float* var) {
  require_nchw(x, "channel_statistics");
  const Shape& s = x.shape;
  const size_t hw = size_t(s.h) * s.w;
  const double count = double(s.n) * hw;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double sum = 0;
    for (int n = 0; n < s.n; ++n)
      for (size_t p = 0; p < hw; ++p) sum += x.data[(size_t(n) * s.c + c) * hw + p];
    double m = sum / count, sq = 0;
    for (int n = 0; n < s.n; ++n)
      for (size_t p = 0; p < hw; ++p) {
        double d = x.data[(size_t(n) * s.c + c) * hw + p] - m;
        sq += d * d;
      }
    mean[c] = float(m);
    var[c] = float(sq / count);
  }
}

void ReferenceCpuBackend::scale_shift_activate(const Tensor& x, const float* scale, const float* shift,
                                               const Tensor* residual, bool relu, Tensor& y) {
  require_nchw(x, "scale_shift_activate");
  const Shape& s = x.shape;
  const size_t hw = size_t(s.h) * s.w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (size_t p = 0; p < hw; ++p) {
        size_t i = (size_t(n) * s.c + c) * hw + p;
        float v = x.data[i] * scale[c] + shift[c];
        if (residual) v += residual->data[i];
        y.data[i] = relu ? std::max(v, 0.0f) : v;
      }
}

void ReferenceCpuBackend::channel_sums(const Tensor& x, double* sums_host) {
  require_nchw(x, "channel_sums");
  const Shape& s = x.shape;
  const size_t hw = size_t(s.h) * s.w;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double sum = 0, squares = 0;
    for (int n = 0; n < s.n; ++n)
      for (size_t p = 0; p < hw; ++p) {
        double v = x.data[(size_t(n) * s.c + c) * hw + p];
        sum += v;
        squares += v * v;
      }
    sums_host[c] = sum;
    sums_host[s.c + c] = squares;
  }
}

void ReferenceCpuBackend::batchnorm_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x,
                                             const float* mean, const float* invstd, const float* gamma, Tensor& dx,
                                             float* dgamma, float* dbeta, Tensor* dresidual,
                                             bool accumulate_residual, ChannelReducer* reducer) {
  require_nchw(x, "batchnorm_backward");
  const Shape& s = x.shape;
  const size_t hw = size_t(s.h) * s.w;
  double count = double(s.n) * hw;
  auto grad_at = [&](size_t i) {
    return (relu_output && relu_output->data[i] <= 0.0f) ? 0.0f : dy.data[i];
  };
  // sums[c] = sum g, sums[C + c] = sum g*xhat.
  std::vector<double> sums(size_t(s.c) * 2);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double sum_g = 0, sum_gx = 0;
    for (int n = 0; n < s.n; ++n)
      for (size_t p = 0; p < hw; ++p) {
        size_t i = (size_t(n) * s.c + c) * hw + p;
        double g = grad_at(i);
        sum_g += g;
        sum_gx += g * (double(x.data[i]) - mean[c]) * invstd[c];
      }
    dgamma[c] = float(sum_gx);
    dbeta[c] = float(sum_g);
    sums[c] = sum_g;
    sums[s.c + c] = sum_gx;
  }
  if (reducer) count = sum_with_count(*reducer, sums, count);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double mean_g = sums[c] / count, mean_gx = sums[s.c + c] / count;
    for (int n = 0; n < s.n; ++n)
      for (size_t p = 0; p < hw; ++p) {
        size_t i = (size_t(n) * s.c + c) * hw + p;
        double g = grad_at(i);
        double xhat = (double(x.data[i]) - mean[c]) * invstd[c];
        dx.data[i] = float(double(gamma[c]) * invstd[c] * (g - mean_g - xhat * mean_gx));
        if (dresidual) {
          float& r = dresidual->data[i];
          r = accumulate_residual ? r + float(g) : float(g);
        }
      }
  }
}

void ReferenceCpuBackend::batchnorm_coefficients(int channels, const float* batch_mean, const float* batch_var,
                                                 const float* gamma, const float* beta, float* running_mean,
                                                 float* running_var, long count, float momentum, float eps,
                                                 bool training, float* scale, float* shift, float* invstd) {
  for (int c = 0; c < channels; ++c) {
    float m, v;
    if (training) {
      m = batch_mean[c];
      v = batch_var[c];
      // PyTorch updates the running variance with the unbiased batch variance.
      float unbiased = count > 1 ? v * float(count) / float(count - 1) : v;
      running_mean[c] = (1 - momentum) * running_mean[c] + momentum * m;
      running_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased;
    } else {
      m = running_mean[c];
      v = running_var[c];
    }
    float is = 1.0f / std::sqrt(v + eps);
    invstd[c] = is;
    scale[c] = gamma[c] * is;
    shift[c] = beta[c] - m * gamma[c] * is;
  }
}

void ReferenceCpuBackend::relu_forward(const Tensor& x, Tensor& y) {
  const size_t n = x.numel();
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) y.data[i] = std::max(x.data[i], 0.0f);
}

void ReferenceCpuBackend::relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) {
  const size_t n = dy.numel();
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) {
    float g = y.data[i] > 0.0f ? dy.data[i] : 0.0f;
    dx.data[i] = accumulate ? dx.data[i] + g : g;
  }
}

void ReferenceCpuBackend::pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) {
  const size_t n = src.numel();
  if (!accumulate) return copy(dst.data, src.data, n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) dst.data[i] += src.data[i];
}

void ReferenceCpuBackend::add(const Tensor& a, const Tensor& b, Tensor& y) {
  const size_t n = a.numel();
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) y.data[i] = a.data[i] + b.data[i];
}

void ReferenceCpuBackend::global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const Shape& s = x.shape;
  const size_t hw = size_t(s.h) * s.w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      double sum = 0;
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) sum += x.data[element_offset(s, x.layout, n, c, h, w)];
      y.data[size_t(n) * s.c + c] = float(sum / double(hw));
    }
}

void ReferenceCpuBackend::global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) {
  const Shape& s = dx.shape;
  const float inv = 1.0f / float(size_t(s.h) * s.w);
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      float g = dy.data[size_t(n) * s.c + c] * inv;
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) {
          float& out = dx.data[element_offset(s, dx.layout, n, c, h, w)];
          out = accumulate ? out + g : g;
        }
    }
}

void ReferenceCpuBackend::linear_forward(const Tensor& x, const float* w, const float* b, int out_features,
                                         Tensor& y) {
  const int n = x.shape.n;
  const size_t in = x.shape.per_sample();
#pragma omp parallel for collapse(2) schedule(static)
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < out_features; ++o) {
      double acc = b ? b[o] : 0.0;
      for (size_t k = 0; k < in; ++k) acc += double(x.data[i * in + k]) * w[o * in + k];
      y.data[size_t(i) * out_features + o] = float(acc);
    }
}

void ReferenceCpuBackend::linear_backward(const Tensor& x, const Tensor& dy, const float* w, int out_features,
                                          Tensor* dx, bool accumulate, float* dw, float* db) {
  const int n = x.shape.n;
  const size_t in = x.shape.per_sample();
  if (dx) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; ++i)
      for (size_t k = 0; k < in; ++k) {
        double acc = 0;
        for (int o = 0; o < out_features; ++o) acc += double(dy.data[size_t(i) * out_features + o]) * w[o * in + k];
        float& out = dx->data[i * in + k];
        out = accumulate ? out + float(acc) : float(acc);
      }
  }
#pragma omp parallel for schedule(static)
  for (int o = 0; o < out_features; ++o) {
    for (size_t k = 0; k < in; ++k) {
      double acc = 0;
      for (int i = 0; i < n; ++i) acc += double(dy.data[size_t(i) * out_features + o]) * x.data[i * in + k];
      dw[o * in + k] = float(acc);
    }
    double acc = 0;
    for (int i = 0; i < n; ++i) acc += dy.data[size_t(i) * out_features + o];
    if (db) db[o] = float(acc);
  }
}

LossTotals ReferenceCpuBackend::loss(OutputMode mode, const Tensor& logits, const int* labels, Tensor* dlogits,
                                     Tensor* probabilities) {
  return cpu_loss(mode, logits, labels, dlogits, probabilities);
}

void ReferenceCpuBackend::sgd_update(float* p, const float* g, float* v, size_t count, float lr, float momentum,
                                     float weight_decay, bool nesterov) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) {
    float grad = g[i] + weight_decay * p[i];
    if (momentum != 0.0f) {
      v[i] = momentum * v[i] + grad;
      grad = nesterov ? grad + momentum * v[i] : v[i];
    }
    p[i] -= lr * grad;
  }
}

double ReferenceCpuBackend::sum_squares(const float* x, size_t count) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
  for (size_t i = 0; i < count; ++i) s += double(x[i]) * x[i];
  return s;
}

}  // namespace dasnet
