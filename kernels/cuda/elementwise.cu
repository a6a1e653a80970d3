// Elementwise and per-plane kernels: ReLU, add, fused scale-shift(-add)-ReLU, global average
// pool, bias broadcast and column sums for the linear layer, and the fused SGD update. All are
// memory-bound: one pass, coalesced, grid-stride loops.
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
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

__global__ void relu_forward_kernel(const float* x, float* y, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] = fmaxf(x[i], 0.0f);
}

__global__ void relu_backward_kernel(const float* dy, const float* y, float* dx, size_t count, bool accumulate) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    float g = y[i] > 0.0f ? dy[i] : 0.0f;
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

__global__ void add_kernel(const float* a, const float* b, float* y, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] = a[i] + b[i];
}

__global__ void accumulate_kernel(const float* src, float* dst, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] += src[i];
}

// Grid: x = plane index (n*C + c), y = chunks of the plane; the channel is fixed per block, so
// scale and shift are read once and no per-element division is needed.
__global__ void scale_shift_activate_kernel(const float* x, const float* scale, const float* shift,
                                            const float* residual, bool relu, float* y, int channels,
                                            size_t plane) {
  const size_t plane_index = blockIdx.x;
  const int c = int(plane_index % channels);
  const float a = scale[c], b = shift[c];
  const size_t base = plane_index * plane;
  for (size_t p = blockIdx.y * size_t(blockDim.x) + threadIdx.x; p < plane; p += size_t(gridDim.y) * blockDim.x) {
    float v = x[base + p] * a + b;
    if (residual) v += residual[base + p];
    y[base + p] = relu ? fmaxf(v, 0.0f) : v;
  }
}

__global__ void global_avg_pool_forward_kernel(const float* x, float* y, size_t plane) {
  const float* p = x + blockIdx.x * plane;
  double sum = 0;
  for (size_t i = threadIdx.x; i < plane; i += blockDim.x) sum += p[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) y[blockIdx.x] = float(sum / double(plane));
}

__global__ void global_avg_pool_backward_kernel(const float* dy, float* dx, size_t plane, bool accumulate) {
  const float g = dy[blockIdx.x] * (1.0f / float(plane));
  float* p = dx + blockIdx.x * plane;
  for (size_t i = blockIdx.y * size_t(blockDim.x) + threadIdx.x; i < plane; i += size_t(gridDim.y) * blockDim.x)
    p[i] = accumulate ? p[i] + g : g;
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
                                  const float* lr_on_device, float momentum, float weight_decay, bool nesterov) {
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

void launch_relu_forward(const float* x, float* y, size_t count, cudaStream_t stream) {
  if (!count) return;
  relu_forward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(x, y, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_relu_backward(const float* dy, const float* y, float* dx, size_t count, bool accumulate,
                          cudaStream_t stream) {
  if (!count) return;
  relu_backward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(dy, y, dx, count, accumulate);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_add(const float* a, const float* b, float* y, size_t count, cudaStream_t stream) {
  if (!count) return;
  add_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(a, b, y, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_accumulate(const float* src, float* dst, size_t count, cudaStream_t stream) {
  if (!count) return;
  accumulate_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(src, dst, count);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_scale_shift_activate(const float* x, const float* scale, const float* shift, const float* residual,
                                 bool relu, float* y, int n, int channels, size_t plane, cudaStream_t stream) {
  const size_t planes = size_t(n) * channels;
  if (!planes || !plane) return;
  dim3 grid(unsigned(planes), plane_chunks(plane));
  scale_shift_activate_kernel<<<grid, kThreads, 0, stream>>>(x, scale, shift, residual, relu, y, channels, plane);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_global_avg_pool_forward(const float* x, float* y, size_t planes, size_t plane, cudaStream_t stream) {
  if (!planes) return;
  global_avg_pool_forward_kernel<<<unsigned(planes), kThreads, 0, stream>>>(x, y, plane);
  DASNET_CUDA_CHECK_LAUNCH();
}

void launch_global_avg_pool_backward(const float* dy, float* dx, size_t planes, size_t plane, bool accumulate,
                                     cudaStream_t stream) {
  if (!planes || !plane) return;
  dim3 grid(unsigned(planes), plane_chunks(plane));
  global_avg_pool_backward_kernel<<<grid, kThreads, 0, stream>>>(dy, dx, plane, accumulate);
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
                       const float* lr_on_device, float momentum, float weight_decay, bool nesterov,
                       cudaStream_t stream) {
  if (!count) return;
  sgd_update_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(params, grads, velocity, count, lr,
                                                                        lr_on_device, momentum, weight_decay,
                                                                        nesterov);
  DASNET_CUDA_CHECK_LAUNCH();
}

}  // namespace dasnet::cuda
