// Per-channel reductions (batchnorm statistics and backward), the sum of squares and the loss.
// Deterministic by construction: each channel is cut into a fixed number of splits, each split
// summed by one block in a fixed order, and the splits combined in order by one thread; partial
// sums are doubles (the reference accumulates in double too). Activations are fp32, bf16 or fp16
// (T), in NCHW or channels-last NHWC (the *_nhwc kernels: one block covers every channel of its
// samples, threads side by side on consecutive channels of a row, so reads are coalesced).
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/element_types.cuh"
#include "kernels/cuda/kernels.h"

#include <algorithm>

namespace dasnet::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kSumSquaresBlocks = 512;

// Splits per channel: about 1024 blocks in all (several per multiprocessor), at most one per sample.
// NHWC: one block per split covers all channels, so up to 1024 splits.
int channel_splits(int n, int channels, bool channels_last) {
  return std::max(1, std::min(n, channels_last ? 1024 : 1024 / std::max(1, channels)));
}

// NHWC: thread t of a block works on channel c0 + t % tile of every `groups`-th row; the groups'
// sums are combined in order through shared memory (deterministic).
struct ChannelTile {
  int c0, tile, groups, lane, group;
  __device__ ChannelTile(int c0_, int channels) : c0(c0_) {
    tile = min(channels - c0, int(blockDim.x));
    groups = int(blockDim.x) / tile;
    lane = int(threadIdx.x) % tile;
    group = int(threadIdx.x) / tile;
  }
  __device__ bool active() const { return group < groups; }
  __device__ int channel() const { return c0 + lane; }
};

// Sums a and b over the groups of a tile into thread t < tile's results (all threads must call).
__device__ void combine_groups(const ChannelTile& tile, double& a, double& b) {
  __shared__ double shared_a[1024], shared_b[1024];
  shared_a[threadIdx.x] = tile.active() ? a : 0.0;
  shared_b[threadIdx.x] = tile.active() ? b : 0.0;
  __syncthreads();
  if (int(threadIdx.x) < tile.tile) {
    a = 0;
    b = 0;
    for (int g = 0; g < tile.groups; ++g) {
      a += shared_a[g * tile.tile + threadIdx.x];
      b += shared_b[g * tile.tile + threadIdx.x];
    }
  }
  __syncthreads();  // shared memory is reused by the next tile
}

// The two per-channel sums the reductions take, element by element: `channel(c, first)` gives a
// channel's constants (first = index of its first element), `add` adds element i's two terms.
// x - shift and (x - shift)^2, the shift being the channel's first value: keeps the variance free
// of cancellation.
template <typename T>
struct MomentTerms {
  const T* x;
  __device__ double channel(int, size_t first) const { return to_float(x[first]); }
  __device__ void add(double shift, size_t i, double& sum, double& squares) const {
    const double d = double(to_float(x[i])) - shift;
    sum += d;
    squares += d * d;
  }
};

// g = dy * [relu_output > 0] (or dy), and g * xhat.
template <typename T>
struct BatchnormBackwardTerms {
  const T *dy, *relu_output, *x;
  const float *mean, *invstd;
  struct Channel {
    double mean, invstd;
  };
  __device__ Channel channel(int c, size_t) const { return {mean[c], invstd[c]}; }
  __device__ void add(const Channel& ch, size_t i, double& sum_g, double& sum_gx) const {
    const double g = (relu_output && to_float(relu_output[i]) <= 0.0f) ? 0.0 : double(to_float(dy[i]));
    sum_g += g;
    sum_gx += g * (double(to_float(x[i])) - ch.mean) * ch.invstd;
  }
};

// NCHW: block (c, s) sums the terms over samples s, s + S, ... of channel c, into
// partials[(c * S + s) * 2 + {0, 1}].
template <typename Terms>
__global__ void channel_partials_nchw(Terms terms, int n, int channels, size_t plane, double* partials) {
  const int c = blockIdx.x, s = blockIdx.y, splits = gridDim.y;
  const auto channel = terms.channel(c, size_t(c) * plane);
  double a = 0, b = 0;
  for (int sample = s; sample < n; sample += splits) {
    const size_t base = (size_t(sample) * channels + c) * plane;
    for (size_t i = threadIdx.x; i < plane; i += blockDim.x) terms.add(channel, base + i, a, b);
  }
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    partials[(size_t(c) * splits + s) * 2] = a;
    partials[(size_t(c) * splits + s) * 2 + 1] = b;
  }
}

// NHWC: block s covers every channel of samples s, s + S, ..., a tile of channels at a time.
template <typename Terms>
__global__ void channel_partials_nhwc(Terms terms, int n, int channels, size_t plane, double* partials) {
  const int s = blockIdx.x, splits = gridDim.x;
  for (int c0 = 0; c0 < channels; c0 += blockDim.x) {
    const ChannelTile tile(c0, channels);
    const int c = tile.channel();
    double a = 0, b = 0;
    if (tile.active()) {
      const auto channel = terms.channel(c, size_t(c));
      for (int sample = s; sample < n; sample += splits) {
        const size_t base = size_t(sample) * plane * channels + c;
        for (size_t row = tile.group; row < plane; row += tile.groups) terms.add(channel, base + row * channels, a, b);
      }
    }
    combine_groups(tile, a, b);
    if (int(threadIdx.x) < tile.tile) {
      partials[(size_t(c) * splits + s) * 2] = a;
      partials[(size_t(c) * splits + s) * 2 + 1] = b;
    }
  }
}

template <typename T>
__global__ void batchnorm_backward_apply_nhwc(const T* dy, const T* relu_output, const T* x, const float* mean,
                                              const float* invstd, const float* gamma, const double* means, T* dx,
                                              T* dresidual, bool accumulate_residual, int channels, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const int c = int(i % channels);
    const double is = invstd[c], gamma_is = double(gamma[c]) * is;
    const float g = (relu_output && to_float(relu_output[i]) <= 0.0f) ? 0.0f : to_float(dy[i]);
    const double xhat = (double(to_float(x[i])) - mean[c]) * is;
    dx[i] = from_float<T>(float(gamma_is * (double(g) - means[2 * c] - xhat * means[2 * c + 1])));
    if (dresidual) dresidual[i] = from_float<T>(accumulate_residual ? to_float(dresidual[i]) + g : g);
  }
}

template <typename T>
__global__ void channel_finish_moments(const T* x, const double* partials, int splits, int channels,
                                       double count, size_t plane, float* mean, float* var) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  double sum = 0, squares = 0;
  for (int s = 0; s < splits; ++s) {
    sum += partials[(size_t(c) * splits + s) * 2];
    squares += partials[(size_t(c) * splits + s) * 2 + 1];
  }
  const double shifted_mean = sum / count;
  mean[c] = float(double(to_float(x[size_t(c) * plane])) + shifted_mean);
  var[c] = float(fmax(squares / count - shifted_mean * shifted_mean, 0.0));
}

// Synchronized batchnorm: sum of x and of x^2 per channel, rebuilt in double from the shifted sums.
template <typename T>
__global__ void channel_finish_sums(const T* x, const double* partials, int splits, int channels, double count,
                                   size_t plane, double* sums) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  double sum = 0, squares = 0;
  for (int s = 0; s < splits; ++s) {
    sum += partials[(size_t(c) * splits + s) * 2];
    squares += partials[(size_t(c) * splits + s) * 2 + 1];
  }
  const double shift = to_float(x[size_t(c) * plane]);
  sums[c] = sum + count * shift;
  sums[channels + c] = squares + 2 * shift * sum + count * shift * shift;
}

__global__ void batchnorm_backward_finish(const double* partials, int splits, int channels, double count,
                                          float* dgamma, float* dbeta, double* means) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  double sum_g = 0, sum_gx = 0;
  for (int s = 0; s < splits; ++s) {
    sum_g += partials[(size_t(c) * splits + s) * 2];
    sum_gx += partials[(size_t(c) * splits + s) * 2 + 1];
  }
  dgamma[c] = float(sum_gx);
  dbeta[c] = float(sum_g);
  means[2 * c] = sum_g / count;
  means[2 * c + 1] = sum_gx / count;
}

// dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat)); dresidual = (or +=) g.
template <typename T>
__global__ void batchnorm_backward_apply(const T* dy, const T* relu_output, const T* x, const float* mean,
                                         const float* invstd, const float* gamma, const double* means, T* dx,
                                         T* dresidual, bool accumulate_residual, int channels, size_t plane) {
  const size_t plane_index = blockIdx.x;
  const int c = int(plane_index % channels);
  const double m = mean[c], is = invstd[c], gamma_is = double(gamma[c]) * is;
  const double mean_g = means[2 * c], mean_gx = means[2 * c + 1];
  const size_t base = plane_index * plane;
  for (size_t p = blockIdx.y * size_t(blockDim.x) + threadIdx.x; p < plane; p += size_t(gridDim.y) * blockDim.x) {
    const size_t i = base + p;
    const float g = (relu_output && to_float(relu_output[i]) <= 0.0f) ? 0.0f : to_float(dy[i]);
    const double xhat = (double(to_float(x[i])) - m) * is;
    const float dxi = float(gamma_is * (double(g) - mean_g - xhat * mean_gx));
    dx[i] = from_float<T>(dxi);
    if (dresidual) dresidual[i] = from_float<T>(accumulate_residual ? to_float(dresidual[i]) + g : g);
  }
}

// The reference's float arithmetic, one thread per channel.
__global__ void batchnorm_coefficients_kernel(int channels, const float* batch_mean, const float* batch_var,
                                              const float* gamma, const float* beta, float* running_mean,
                                              float* running_var, long count, float momentum, float eps,
                                              bool training, float* scale, float* shift, float* invstd) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  float m, v;
  if (training) {
    m = batch_mean[c];
    v = batch_var[c];
    // PyTorch updates the running variance with the unbiased batch variance.
    const float unbiased = count > 1 ? v * float(count) / float(count - 1) : v;
    running_mean[c] = (1 - momentum) * running_mean[c] + momentum * m;
    running_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased;
  } else {
    m = running_mean[c];
    v = running_var[c];
  }
  const float is = 1.0f / sqrtf(v + eps);
  invstd[c] = is;
  scale[c] = gamma[c] * is;
  shift[c] = beta[c] - m * gamma[c] * is;
}

__global__ void sum_squares_partials(const float* x, size_t count, double* partials) {
  double sum = 0;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    sum += double(x[i]) * x[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

__global__ void sum_partials(const double* partials, int count, double* result) {
  double sum = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) *result = sum;
}

// log(1 + exp(-|z|)) + max(z, 0) - z*y: binary cross-entropy on a logit, stable for any z.
__device__ double bce_with_logit(double z, double y) { return fmax(z, 0.0) - z * y + log1p(exp(-fabs(z))); }
__device__ double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

// One block; each thread takes samples tid, tid + blockDim, ... (the batch and K are small).
// Same arithmetic as kernels/cpu_loss.cpp.
__global__ void loss_kernel(LossKind kind, const float* logits, const int* labels, int n, int k, float* dlogits,
                            float* probabilities, const float* gradient_scale, double* totals) {
  const double scale = gradient_scale ? double(*gradient_scale) : 1.0;
  double loss_sum = 0, correct_sum = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float* z = logits + size_t(i) * k;
    const int label = labels[i];
    double sample_loss = 0;
    bool correct = true;
    if (kind == LossKind::Softmax) {
      int argmax = 0;
      for (int j = 1; j < k; ++j)
        if (z[j] > z[argmax]) argmax = j;
      const double zmax = z[argmax];
      double sum = 0;
      for (int j = 0; j < k; ++j) sum += exp(double(z[j]) - zmax);
      sample_loss = (log(sum) + zmax) - z[label];
      correct = argmax == label;
      for (int j = 0; j < k; ++j) {
        const double p = exp(double(z[j]) - zmax) / sum;
        if (dlogits) dlogits[size_t(i) * k + j] = float(scale * (p - (j == label)) / n);
        if (probabilities) probabilities[size_t(i) * k + j] = float(p);
      }
    } else {
      // Sigmoid (k = 1) is multilabel with one class; BCE averages over all n*k terms.
      for (int j = 0; j < k; ++j) {
        const double y = (label >> j) & 1;
        const double p = sigmoid(z[j]);
        sample_loss += bce_with_logit(z[j], y) / k;
        correct = correct && ((p > 0.5) == (y > 0.5));
        if (dlogits) dlogits[size_t(i) * k + j] = float(scale * (p - y) / (double(n) * k));
        if (probabilities) probabilities[size_t(i) * k + j] = float(p);
      }
    }
    loss_sum += sample_loss;
    correct_sum += correct ? 1.0 : 0.0;
  }
  loss_sum = block_sum(loss_sum);
  correct_sum = block_sum(correct_sum);
  if (threadIdx.x == 0) {
    totals[0] = loss_sum;
    totals[1] = correct_sum;
  }
}

unsigned plane_chunks(size_t plane) {
  return unsigned(std::max<size_t>(1, std::min<size_t>((plane + kThreads * 4 - 1) / (kThreads * 4), 65535)));
}

}  // namespace

size_t channel_reduction_scratch(int n, int channels, bool channels_last) {
  return size_t(channels) * channel_splits(n, channels, channels_last) * 2 + size_t(channels) * 2;
}

double* channel_reduction_result(double* scratch, int n, int channels, bool channels_last) {
  return scratch + size_t(channels) * channel_splits(n, channels, channels_last) * 2;
}

namespace {
// Per-channel partial sums of `terms` in NCHW (channels x splits blocks) or NHWC (splits blocks);
// returns the splits.
template <typename Terms>
int launch_channel_partials(Terms terms, int n, int channels, size_t plane, bool channels_last, double* scratch,
                            cudaStream_t stream) {
  const int splits = channel_splits(n, channels, channels_last);
  if (channels_last)
    channel_partials_nhwc<<<unsigned(splits), kThreads, 0, stream>>>(terms, n, channels, plane, scratch);
  else
    channel_partials_nchw<<<dim3(unsigned(channels), unsigned(splits)), kThreads, 0, stream>>>(terms, n, channels,
                                                                                               plane, scratch);
  DASNET_CUDA_CHECK_LAUNCH();
  return splits;
}
}  // namespace

template <typename T>
void launch_channel_statistics(const T* x, float* mean, float* var, int n, int channels, size_t plane,
                               bool channels_last, double* scratch, cudaStream_t stream) {
  if (n <= 0 || channels <= 0) return;
  const int splits = launch_channel_partials(MomentTerms<T>{x}, n, channels, plane, channels_last, scratch, stream);
  // The shift was the channel's first value: at c * plane (NCHW) or c (NHWC).
  channel_finish_moments<T><<<unsigned((channels + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      x, scratch, splits, channels, double(n) * double(plane), channels_last ? 1 : plane, mean, var);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_channel_sums(const T* x, int n, int channels, size_t plane, bool channels_last, double* scratch,
                         cudaStream_t stream) {
  if (n < 0 || channels <= 0) return;
  double* result = channel_reduction_result(scratch, n, channels, channels_last);
  if (n == 0) {  // an empty batch sums to zero (the host reads the result); x has no value to shift by
    DASNET_CUDA_CHECK(cudaMemsetAsync(result, 0, size_t(channels) * 2 * sizeof(double), stream));
    return;
  }
  const int splits = launch_channel_partials(MomentTerms<T>{x}, n, channels, plane, channels_last, scratch, stream);
  channel_finish_sums<T><<<unsigned((channels + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      x, scratch, splits, channels, double(n) * double(plane), channels_last ? 1 : plane, result);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_batchnorm_backward_sums(const T* dy, const T* relu_output, const T* x, const float* mean,
                                    const float* invstd, float* dgamma, float* dbeta, double divisor, int n,
                                    int channels, size_t plane, bool channels_last, double* scratch,
                                    cudaStream_t stream) {
  // n == 0 still runs: dgamma, dbeta and the sums become 0 (as on the CPU), not left stale.
  if (n < 0 || channels <= 0) return;
  const int splits = launch_channel_partials(BatchnormBackwardTerms<T>{dy, relu_output, x, mean, invstd}, n, channels,
                                            plane, channels_last, scratch, stream);
  batchnorm_backward_finish<<<unsigned((channels + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      scratch, splits, channels, divisor, dgamma, dbeta, channel_reduction_result(scratch, n, channels, channels_last));
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_batchnorm_backward_apply(const T* dy, const T* relu_output, const T* x, const float* mean,
                                     const float* invstd, const float* gamma, T* dx, T* dresidual,
                                     bool accumulate_residual, int n, int channels, size_t plane, bool channels_last,
                                     double* scratch, cudaStream_t stream) {
  if (n <= 0 || channels <= 0 || !plane) return;
  const double* means = channel_reduction_result(scratch, n, channels, channels_last);
  if (channels_last) {
    const size_t count = size_t(n) * channels * plane;
    const unsigned blocks = unsigned(std::min<size_t>((count + kThreads - 1) / kThreads, 65536));
    batchnorm_backward_apply_nhwc<T><<<blocks, kThreads, 0, stream>>>(dy, relu_output, x, mean, invstd, gamma, means,
                                                                      dx, dresidual, accumulate_residual, channels,
                                                                      count);
  } else {
    dim3 grid(unsigned(size_t(n) * channels), plane_chunks(plane));
    batchnorm_backward_apply<T><<<grid, kThreads, 0, stream>>>(dy, relu_output, x, mean, invstd, gamma, means, dx,
                                                               dresidual, accumulate_residual, channels, plane);
  }
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_batchnorm_coefficients(int channels, const float* batch_mean, const float* batch_var, const float* gamma,
                                   const float* beta, float* running_mean, float* running_var, long count,
                                   float momentum, float eps, bool training, float* scale, float* shift,
                                   float* invstd, cudaStream_t stream) {
  if (channels <= 0) return;
  batchnorm_coefficients_kernel<<<unsigned((channels + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      channels, batch_mean, batch_var, gamma, beta, running_mean, running_var, count, momentum, eps, training, scale,
      shift, invstd);
  DASNET_CUDA_CHECK_LAUNCH();
}

size_t sum_squares_scratch() { return kSumSquaresBlocks; }

void launch_sum_squares(const float* x, size_t count, double* scratch, double* result, cudaStream_t stream) {
  sum_squares_partials<<<kSumSquaresBlocks, kThreads, 0, stream>>>(x, count, scratch);
  DASNET_CUDA_CHECK_LAUNCH();
  sum_partials<<<1, kThreads, 0, stream>>>(scratch, kSumSquaresBlocks, result);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_loss(LossKind kind, const float* logits, const int* labels, int n, int k, float* dlogits,
                 float* probabilities, const float* gradient_scale, double* totals, cudaStream_t stream) {
  loss_kernel<<<1, kThreads, 0, stream>>>(kind, logits, labels, n, k, dlogits, probabilities, gradient_scale,
                                          totals);
  DASNET_CUDA_CHECK_LAUNCH();
}

// The activation types: fp32, bf16 and fp16.
#define DASNET_REDUCTIONS_FOR(T)                                                                                 \
  template void launch_channel_statistics<T>(const T*, float*, float*, int, int, size_t, bool, double*,         \
                                             cudaStream_t);                                                     \
  template void launch_channel_sums<T>(const T*, int, int, size_t, bool, double*, cudaStream_t);                \
  template void launch_batchnorm_backward_sums<T>(const T*, const T*, const T*, const float*, const float*,      \
                                                  float*, float*, double, int, int, size_t, bool, double*,      \
                                                  cudaStream_t);                                                \
  template void launch_batchnorm_backward_apply<T>(const T*, const T*, const T*, const float*, const float*,    \
                                                   const float*, T*, T*, bool, int, int, size_t, bool, double*, \
                                                   cudaStream_t);
DASNET_REDUCTIONS_FOR(float)
DASNET_REDUCTIONS_FOR(__nv_bfloat16)
DASNET_REDUCTIONS_FOR(__half)
#undef DASNET_REDUCTIONS_FOR

}  // namespace dasnet::cuda
