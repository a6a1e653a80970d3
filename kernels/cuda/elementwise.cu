// Elementwise and per-plane kernels: ReLU, add, fused scale-shift(-add)-ReLU, global average
// pool, bias broadcast and column sums for the linear layer, the fused SGD update, and fp32 <->
// bf16 conversion. All are memory-bound: one pass, coalesced, grid-stride loops. Kernels over
// activations take T = float or __nv_bfloat16 (kernels/cuda/element_types.cuh).
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/element_types.cuh"
#include "kernels/cuda/kernels.h"

#include <algorithm>

namespace dasnet::cuda {

namespace {

constexpr int kThreads = 256;

// Enough blocks to fill any current GPU several times over; the grid-stride loop does the rest.
unsigned elementwise_blocks(size_t count) {
  size_t blocks = (count + kThreads - 1) / kThreads;
  return unsigned(std::max<size_t>(1, std::min<size_t>(blocks, 65536)));
}

__global__ void fill_kernel(float* dst, size_t count, float value) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

// max(v, 0) that keeps NaN, as the CPU backends' std::max(v, 0) and PyTorch do (fmaxf would turn a
// NaN from an overflow into 0 and hide it from the divergence check).
__device__ __forceinline__ float relu_keep_nan(float v) { return !(v <= 0.0f) ? v : 0.0f; }

template <typename T>
__global__ void relu_forward_kernel(const T* x, T* y, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(relu_keep_nan(to_float(x[i])));
}

template <typename T>
__global__ void relu_backward_kernel(const T* dy, const T* y, T* dx, size_t count, bool accumulate) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    float g = to_float(y[i]) > 0.0f ? to_float(dy[i]) : 0.0f;
    dx[i] = from_float<T>(accumulate ? to_float(dx[i]) + g : g);
  }
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T>
__global__ void accumulate_kernel(const T* src, T* dst, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<T>(to_float(dst[i]) + to_float(src[i]));
}

template <typename To, typename From>  // To first: launched as convert_kernel<To>, From deduced
__global__ void convert_kernel(const From* src, To* dst, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<To>(to_float(src[i]));
}

// Grid: x = plane index (n*C + c), y = chunks of the plane; the channel is fixed per block, so
// scale and shift are read once and no per-element division is needed.
template <typename T>
__global__ void scale_shift_activate_kernel(const T* x, const float* scale, const float* shift, const T* residual,
                                            bool relu, T* y, int channels, size_t plane) {
  const size_t plane_index = blockIdx.x;
  const int c = int(plane_index % channels);
  const float a = scale[c], b = shift[c];
  const size_t base = plane_index * plane;
  for (size_t p = blockIdx.y * size_t(blockDim.x) + threadIdx.x; p < plane; p += size_t(gridDim.y) * blockDim.x) {
    float v = to_float(x[base + p]) * a + b;
    if (residual) v += to_float(residual[base + p]);
    y[base + p] = from_float<T>(relu ? relu_keep_nan(v) : v);
  }
}

// NHWC: c = i % channels.
template <typename T>
__global__ void scale_shift_activate_nhwc_kernel(const T* x, const float* scale, const float* shift, const T* residual,
                                                 bool relu, T* y, int channels, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const int c = int(i % channels);
    float v = to_float(x[i]) * scale[c] + shift[c];
    if (residual) v += to_float(residual[i]);
    y[i] = from_float<T>(relu ? relu_keep_nan(v) : v);
  }
}

// NHWC pooling: block (sample, channel tile); thread t sums channel c0 + t over the rows in order.
template <typename T>
__global__ void global_avg_pool_forward_nhwc_kernel(const T* x, float* y, int channels, size_t plane) {
  const int sample = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const T* p = x + size_t(sample) * plane * channels + c;
  double sum = 0;
  for (size_t row = 0; row < plane; ++row) sum += to_float(p[row * channels]);
  y[size_t(sample) * channels + c] = float(sum / double(plane));
}

template <typename T>
__global__ void global_avg_pool_backward_nhwc_kernel(const float* dy, T* dx, int channels, size_t plane, size_t count,
                                                     bool accumulate) {
  const float inverse = 1.0f / float(plane);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const size_t sample = i / (plane * channels);
    const float g = dy[sample * channels + i % channels] * inverse;
    dx[i] = from_float<T>(accumulate ? to_float(dx[i]) + g : g);
  }
}

// NCHW <-> NHWC with a type conversion; one thread per output element.
template <typename To, typename From>  // To first: launched as permute_kernel<To>, From deduced
__global__ void permute_kernel(const From* src, To* dst, int channels, size_t plane, size_t count, bool to_channels_last) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const size_t per_sample = plane * channels, sample = i / per_sample, rest = i % per_sample;
    size_t from;
    if (to_channels_last) {  // i walks NHWC: rest = row * channels + c
      from = (sample * channels + rest % channels) * plane + rest / channels;
    } else {  // i walks NCHW: rest = c * plane + row
      from = (sample * plane + rest % plane) * channels + rest / plane;
    }
    dst[i] = from_float<To>(to_float(src[from]));
  }
}

template <typename T>
__global__ void global_avg_pool_forward_kernel(const T* x, float* y, size_t plane) {
  const T* p = x + blockIdx.x * plane;
  double sum = 0;
  for (size_t i = threadIdx.x; i < plane; i += blockDim.x) sum += to_float(p[i]);
  sum = block_sum(sum);
  if (threadIdx.x == 0) y[blockIdx.x] = float(sum / double(plane));
}

template <typename T>
__global__ void global_avg_pool_backward_kernel(const float* dy, T* dx, size_t plane, bool accumulate) {
  const float g = dy[blockIdx.x] * (1.0f / float(plane));
  T* p = dx + blockIdx.x * plane;
  for (size_t i = blockIdx.y * size_t(blockDim.x) + threadIdx.x; i < plane; i += size_t(gridDim.y) * blockDim.x)
    p[i] = from_float<T>(accumulate ? to_float(p[i]) + g : g);
}

__global__ void broadcast_rows_kernel(const float* row, float* y, int rows, int columns) {
  const size_t count = size_t(rows) * columns;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] = row[i % columns];
}

// One thread per column, rows summed in order: deterministic, and rows (the batch) are few.
__global__ void column_sums_kernel(const float* x, float* sums, int rows, int columns) {
  const int column = blockIdx.x * blockDim.x + threadIdx.x;
  if (column >= columns) return;
  double sum = 0;
  for (int r = 0; r < rows; ++r) sum += x[size_t(r) * columns + column];
  sums[column] = float(sum);
}

// PyTorch's SGD in one pass: g += wd*p; v = m*v + g; p -= lr*(nesterov ? g + m*v : v).
__global__ void sgd_update_kernel(float* params, const float* grads, float* velocity, size_t count, float lr,
                                  const float* lr_on_device, const float* skip, float momentum, float weight_decay,
                                  bool nesterov) {
  if (skip && *skip != 0.0f) return;  // loss scaling: this step's gradients overflowed
  if (lr_on_device) lr = *lr_on_device;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    float grad = grads[i] + weight_decay * params[i];
    if (momentum != 0.0f) {
      float v = momentum * velocity[i] + grad;
      velocity[i] = v;
      grad = nesterov ? grad + momentum * v : v;
    }
    params[i] -= lr * grad;
  }
}

// Loss scaling: g /= scale; any non-finite g raises the flag (every writer stores 1: the result
// does not depend on their order).
__global__ void unscale_gradients_kernel(float* grads, size_t count, const LossScaleState* state, float* found_inf) {
  const float inverse = 1.0f / state->scale;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const float g = grads[i] * inverse;
    if (!isfinite(g)) *found_inf = 1.0f;
    grads[i] = g;
  }
}

// PyTorch GradScaler's rule: halve on overflow, double after `growth_interval` clean steps.
__global__ void update_loss_scale_kernel(LossScaleState* state, int growth_interval) {
  if (threadIdx.x != 0) return;  // one warp is launched; one thread updates
  if (state->found_inf != 0.0f) {
    state->scale = fmaxf(state->scale * 0.5f, 1.0f);
    state->clean_steps = 0;
    ++state->skipped_steps;
  } else if (++state->clean_steps >= growth_interval) {
    state->scale = fminf(state->scale * 2.0f, 16777216.0f);  // 2^24: well inside fp32
    state->clean_steps = 0;
  }
}

// Chunks per plane so that planes x chunks blocks cover the plane with kThreads * 4 elements each.
unsigned plane_chunks(size_t plane) {
  return unsigned(std::max<size_t>(1, std::min<size_t>((plane + kThreads * 4 - 1) / (kThreads * 4), 65535)));
}

}  // namespace

void launch_fill(float* dst, size_t count, float value, cudaStream_t stream) {
  if (!count) return;
  fill_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(dst, count, value);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_relu_forward(const T* x, T* y, size_t count, cudaStream_t stream) {
  if (!count) return;
  relu_forward_kernel<T><<<elementwise_blocks(count), kThreads, 0, stream>>>(x, y, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_relu_backward(const T* dy, const T* y, T* dx, size_t count, bool accumulate, cudaStream_t stream) {
  if (!count) return;
  relu_backward_kernel<T><<<elementwise_blocks(count), kThreads, 0, stream>>>(dy, y, dx, count, accumulate);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_add(const T* a, const T* b, T* y, size_t count, cudaStream_t stream) {
  if (!count) return;
  add_kernel<T><<<elementwise_blocks(count), kThreads, 0, stream>>>(a, b, y, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_accumulate(const T* src, T* dst, size_t count, cudaStream_t stream) {
  if (!count) return;
  accumulate_kernel<T><<<elementwise_blocks(count), kThreads, 0, stream>>>(src, dst, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_scale_shift_activate(const T* x, const float* scale, const float* shift, const T* residual, bool relu,
                                 T* y, int n, int channels, size_t plane, bool channels_last, cudaStream_t stream) {
  const size_t planes = size_t(n) * channels;
  if (!planes || !plane) return;
  if (channels_last) {
    const size_t count = planes * plane;
    scale_shift_activate_nhwc_kernel<T><<<elementwise_blocks(count), kThreads, 0, stream>>>(x, scale, shift, residual,
                                                                                            relu, y, channels, count);
    DASNET_CUDA_CHECK_LAUNCH();
    return;
  }
  dim3 grid(unsigned(planes), plane_chunks(plane));
  scale_shift_activate_kernel<T><<<grid, kThreads, 0, stream>>>(x, scale, shift, residual, relu, y, channels, plane);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_global_avg_pool_forward(const T* x, float* y, int n, int channels, size_t plane, bool channels_last,
                                    cudaStream_t stream) {
  const size_t planes = size_t(n) * channels;
  if (!planes) return;
  if (channels_last) {
    dim3 grid(unsigned(n), unsigned((channels + kThreads - 1) / kThreads));
    global_avg_pool_forward_nhwc_kernel<T><<<grid, kThreads, 0, stream>>>(x, y, channels, plane);
    DASNET_CUDA_CHECK_LAUNCH();
    return;
  }
  global_avg_pool_forward_kernel<T><<<unsigned(planes), kThreads, 0, stream>>>(x, y, plane);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_global_avg_pool_backward(const float* dy, T* dx, int n, int channels, size_t plane, bool channels_last,
                                     bool accumulate, cudaStream_t stream) {
  const size_t planes = size_t(n) * channels;
  if (!planes || !plane) return;
  if (channels_last) {
    const size_t count = planes * plane;
    global_avg_pool_backward_nhwc_kernel<T><<<elementwise_blocks(count), kThreads, 0, stream>>>(dy, dx, channels, plane,
                                                                                                count, accumulate);
    DASNET_CUDA_CHECK_LAUNCH();
    return;
  }
  dim3 grid(unsigned(planes), plane_chunks(plane));
  global_avg_pool_backward_kernel<T><<<grid, kThreads, 0, stream>>>(dy, dx, plane, accumulate);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_broadcast_rows(const float* row, float* y, int rows, int columns, cudaStream_t stream) {
  const size_t count = size_t(rows) * columns;
  if (!count) return;
  broadcast_rows_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(row, y, rows, columns);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_column_sums(const float* x, float* sums, int rows, int columns, cudaStream_t stream) {
  if (columns <= 0) return;
  column_sums_kernel<<<unsigned((columns + kThreads - 1) / kThreads), kThreads, 0, stream>>>(x, sums, rows, columns);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr,
                       const float* lr_on_device, const float* skip, float momentum, float weight_decay,
                       bool nesterov, cudaStream_t stream) {
  if (!count) return;
  sgd_update_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(params, grads, velocity, count, lr,
                                                                        lr_on_device, skip, momentum, weight_decay,
                                                                        nesterov);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_unscale_gradients(float* grads, size_t count, LossScaleState* state, cudaStream_t stream) {
  DASNET_CUDA_CHECK(cudaMemsetAsync(&state->found_inf, 0, sizeof(float), stream));
  if (!count) return;
  unscale_gradients_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(grads, count, state,
                                                                               &state->found_inf);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_update_loss_scale(LossScaleState* state, int growth_interval, cudaStream_t stream) {
  update_loss_scale_kernel<<<1, 32, 0, stream>>>(state, growth_interval);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename From, typename To>
void launch_permute(const From* src, To* dst, int n, int channels, size_t plane, bool to_channels_last,
                    cudaStream_t stream) {
  const size_t count = size_t(n) * channels * plane;
  if (!count) return;
  permute_kernel<To><<<elementwise_blocks(count), kThreads, 0, stream>>>(src, dst, channels, plane, count,
                                                                         to_channels_last);
  DASNET_CUDA_CHECK_LAUNCH();
}

template <typename From, typename To>
void launch_convert(const From* src, To* dst, size_t count, cudaStream_t stream) {
  if (!count) return;
  convert_kernel<To><<<elementwise_blocks(count), kThreads, 0, stream>>>(src, dst, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

// The activation types: fp32, bf16 and fp16.
#define DASNET_ELEMENTWISE_FOR(T)                                                                              \
  template void launch_relu_forward<T>(const T*, T*, size_t, cudaStream_t);                                    \
  template void launch_relu_backward<T>(const T*, const T*, T*, size_t, bool, cudaStream_t);                   \
  template void launch_add<T>(const T*, const T*, T*, size_t, cudaStream_t);                                   \
  template void launch_accumulate<T>(const T*, T*, size_t, cudaStream_t);                                      \
  template void launch_scale_shift_activate<T>(const T*, const float*, const float*, const T*, bool, T*, int,  \
                                               int, size_t, bool, cudaStream_t);                               \
  template void launch_global_avg_pool_forward<T>(const T*, float*, int, int, size_t, bool, cudaStream_t);     \
  template void launch_global_avg_pool_backward<T>(const float*, T*, int, int, size_t, bool, bool,            \
                                                   cudaStream_t);
DASNET_ELEMENTWISE_FOR(float)
DASNET_ELEMENTWISE_FOR(__nv_bfloat16)
DASNET_ELEMENTWISE_FOR(__half)
#undef DASNET_ELEMENTWISE_FOR
template void launch_convert<float, __nv_bfloat16>(const float*, __nv_bfloat16*, size_t, cudaStream_t);
template void launch_convert<__nv_bfloat16, float>(const __nv_bfloat16*, float*, size_t, cudaStream_t);
template void launch_convert<float, __half>(const float*, __half*, size_t, cudaStream_t);
template void launch_convert<__half, float>(const __half*, float*, size_t, cudaStream_t);
template void launch_permute<float, float>(const float*, float*, int, int, size_t, bool, cudaStream_t);
template void launch_permute<float, __nv_bfloat16>(const float*, __nv_bfloat16*, int, int, size_t, bool, cudaStream_t);
template void launch_permute<__nv_bfloat16, float>(const __nv_bfloat16*, float*, int, int, size_t, bool, cudaStream_t);
template void launch_permute<float, __half>(const float*, __half*, int, int, size_t, bool, cudaStream_t);
template void launch_permute<__half, float>(const __half*, float*, int, int, size_t, bool, cudaStream_t);

}  // namespace dasnet::cuda
