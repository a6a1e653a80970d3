// The CUDA backend's op dispatch: each Backend op checks its tensors (kernels/cuda/tensor_checks.h)
// and calls cuDNN, cuBLAS or a hand-written kernel on the backend's stream. Graph capture and
// replay live in kernels/cuda/graph_capture.*, fp16 loss scaling in kernels/cuda/loss_scaler.*,
// the owned handles and staging buffers in kernels/cuda/device_buffers.h, the options and the
// DASNET_CUDA_* environment in kernels/cuda/cuda_options.cpp.
#include "kernels/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "core/usage_error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cudnn_ops.h"
#include "kernels/cuda/device_buffers.h"
#include "kernels/cuda/graph_capture.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/loss_scaler.h"
#include "kernels/cuda/tensor_checks.h"

namespace dasnet {

using cuda::channels_last;
using cuda::device_allocate;
using cuda::require_dtype;
using cuda::require_like;

namespace {

constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

cuda::LossKind loss_kind(OutputMode mode) {
  switch (mode) {
    case OutputMode::Sigmoid: return cuda::LossKind::Sigmoid;
    case OutputMode::Softmax: return cuda::LossKind::Softmax;
    case OutputMode::Multilabel: return cuda::LossKind::Multilabel;
  }
  return cuda::LossKind::Softmax;
}

size_t plane_of(const Shape& s) { return size_t(s.h) * s.w; }

using bf16 = __nv_bfloat16;

// Calls `launch` with a value of an element type (float, bf16 or fp16), so one call site serves
// every precision: launch(T{}) then reads elements<T>(tensor).
template <typename Launch>
void with_element_type(DType dtype, Launch&& launch) {
  if (dtype == DType::BF16) launch(bf16{});
  else if (dtype == DType::F16) launch(__half{});
  else launch(float{});
}
template <typename Launch>
void with_element_type(const Tensor& t, Launch&& launch) {
  with_element_type(t.dtype, launch);
}

// fp32 <-> a 16-bit activation type, into or out of raw 16-bit storage.
void narrow(DType dtype, const float* src, void* dst, size_t count, cudaStream_t stream) {
  with_element_type(dtype, [&](auto type) {
    using T = decltype(type);
    if constexpr (!std::is_same_v<T, float>) cuda::launch_convert(src, static_cast<T*>(dst), count, stream);
  });
}
void widen(DType dtype, const void* src, float* dst, size_t count, cudaStream_t stream) {
  with_element_type(dtype, [&](auto type) {
    using T = decltype(type);
    if constexpr (!std::is_same_v<T, float>) cuda::launch_convert(static_cast<const T*>(src), dst, count, stream);
  });
}

// fp32 NCHW (or OIHW weights) -> `dtype` NHWC (OHWI), and back.
void to_channels_last(DType dtype, const float* src, void* dst, int n, int channels, size_t plane,
                      cudaStream_t stream) {
  with_element_type(dtype, [&](auto type) {
    using T = decltype(type);
    cuda::launch_permute(src, static_cast<T*>(dst), n, channels, plane, true, stream);
  });
}
void from_channels_last(DType dtype, const void* src, float* dst, int n, int channels, size_t plane,
                        cudaStream_t stream) {
  with_element_type(dtype, [&](auto type) {
    using T = decltype(type);
    cuda::launch_permute(static_cast<const T*>(src), dst, n, channels, plane, false, stream);
  });
}


template <typename T>
T* elements(const Tensor& t) {
  return reinterpret_cast<T*>(t.data);
}
template <typename T>
T* elements_or_null(const Tensor* t) {
  return t ? reinterpret_cast<T*>(t->data) : nullptr;
}

size_t element_bytes(DType dtype) { return dtype == DType::F32 ? sizeof(float) : sizeof(uint16_t); }

}  // namespace

// Every member releases itself, in the reverse of this order, after ~State has waited for the
// stream: a constructor that throws half-way leaks nothing.
struct CudaBackend::State {
  int device = 0;
  cuda::UniqueStream stream;
  cuda::UniqueBlas blas;
  cuda::DeviceBuffer<char> blas_workspace;
  std::unique_ptr<cuda::CudnnConvolutions> convolutions;
  cuda::DeviceBuffer<double> reduction_scratch;
  cuda::DeviceBuffer<double> results;  // [0..1] loss totals, [2] sum of squares
  cuda::DeviceBuffer<int> labels;
  // 16-bit activations: fp32 images before conversion; convolution weights (and weight
  // gradients) in the 16-bit type.
  cuda::DeviceBuffer<float> images_fp32;
  cuda::DeviceBuffer<float> weights_working;  // room for fp32 (NHWC reorders fp32 weights too)
  cuda::HostStaging staging;
  std::unique_ptr<cuda::LossScaler> loss_scaler;  // fp16 only
  std::unique_ptr<cuda::GraphCapture> graph;      // uses the stream and the staging buffers
  size_t allocations = 0;  // allocate() and release() calls

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (stream) cudaStreamSynchronize(stream);  // queued work may still use the buffers
  }
  bool capturing() const { return graph && graph->capturing(); }
  size_t memory_generation() const {
    // The pinned staging buffers count too: the graph's copies read their old addresses.
    return allocations + reduction_scratch.reallocations + labels.reallocations + images_fp32.reallocations +
           weights_working.reallocations + staging.images.reallocations + staging.labels.reallocations +
           convolutions->workspace_reallocations();
  }
};

namespace {
void require_compute_capability_for(CudaPrecision precision, int device) {
  if (precision != CudaPrecision::Bf16) return;
  cudaDeviceProp prop{};
  DASNET_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  if (prop.major < 8)
    throw UsageError(std::string("--precision bf16 needs a GPU of compute capability 8.0 or newer (A100, H100, "
                                 "H200); ") + prop.name + " is " + std::to_string(prop.major) + "." +
                     std::to_string(prop.minor) + ": use fp32");
}
}  // namespace

CudaBackend::CudaBackend(const CudaOptions& options) : options_(options), state_(std::make_unique<State>()) {
  std::string why;
  if (!cuda_device_available(&why)) throw std::runtime_error("--backend cuda: no CUDA device: " + why);
  State& s = *state_;
  if (options.device >= 0) DASNET_CUDA_CHECK(cudaSetDevice(options.device));
  DASNET_CUDA_CHECK(cudaGetDevice(&s.device));
  require_compute_capability_for(options.precision, s.device);
  DASNET_CUDA_CHECK(cudaStreamCreateWithFlags(s.stream.out(), cudaStreamNonBlocking));
  DASNET_CUDA_CHECK(cudaEventCreateWithFlags(s.staging.images_consumed.out(), cudaEventDisableTiming));
  DASNET_CUBLAS_CHECK(cublasCreate(s.blas.out()));
  DASNET_CUBLAS_CHECK(cublasSetStream(s.blas, s.stream));
  // An explicit workspace (set after the stream, which resets it) keeps cuBLAS from allocating
  // inside a graph capture.
  s.blas_workspace.ensure(kCublasWorkspaceBytes, false, "the cuBLAS workspace", s.stream);
  DASNET_CUBLAS_CHECK(cublasSetWorkspace(s.blas, s.blas_workspace.data, kCublasWorkspaceBytes));
  DASNET_CUBLAS_CHECK(cublasSetMathMode(
      s.blas, options.precision == CudaPrecision::Tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  cuda::ConvolutionOptions conv;
  conv.tf32 = options.precision == CudaPrecision::Tf32;
  conv.deterministic = options.deterministic;
  conv.workspace_limit_bytes = options.workspace_limit_bytes;
  conv.verbose = options.verbose;
  s.convolutions = std::make_unique<cuda::CudnnConvolutions>(s.stream, conv);
  s.results.ensure(4, false, "loss totals", s.stream);
  s.staging.results.ensure(4, false, "loss totals");
  if (options.precision == CudaPrecision::Fp16)
    s.loss_scaler = std::make_unique<cuda::LossScaler>(options.initial_loss_scale, s.stream);
  s.graph = std::make_unique<cuda::GraphCapture>(s.stream, s.staging, [&s] { return s.memory_generation(); });
}

CudaBackend::~CudaBackend() = default;

bool CudaBackend::capturing() const { return state_->capturing(); }

StepGraph* CudaBackend::step_graph() { return state_->graph.get(); }

std::string CudaBackend::name() const {
  cudaDeviceProp prop{};
  std::string device = cudaGetDeviceProperties(&prop, state_->device) == cudaSuccess ? prop.name : "?";
  return std::string("cuda (") + device + ", " + cuda_precision_name(options_.precision) +
         (options_.uses_channels_last() ? ", NHWC" : ", NCHW") +
         (options_.deterministic ? ", deterministic" : "") + ", " + cuda::CudnnConvolutions::version_string() + ")";
}

void* CudaBackend::native_stream() { return state_->stream; }

void CudaBackend::synchronize() { DASNET_CUDA_CHECK(cudaStreamSynchronize(state_->stream)); }
size_t CudaBackend::workspace_bytes() const { return state_->convolutions->workspace_bytes(); }

// --- Memory -------------------------------------------------------------------------------

float* CudaBackend::allocate_memory(size_t count) {
  if (capturing()) throw std::logic_error("CUDA backend: allocation inside a graph capture");
  float* p = static_cast<float*>(device_allocate(count * sizeof(float), "activations or parameters"));
  ++state_->allocations;
  DASNET_CUDA_CHECK(cudaMemsetAsync(p, 0, std::max<size_t>(count, 1) * sizeof(float), state_->stream));
  return p;
}

void CudaBackend::release_memory(float* p) noexcept {
  State& s = *state_;
  ++s.allocations;
  // A capture (a step that threw half-way) must not see a free: it happens after end_capture.
  if (s.capturing()) {
    s.graph->defer_free(p);
    return;
  }
  // Work still queued may use p: finish it first (release is rare: arena growth, teardown).
  cudaStreamSynchronize(s.stream);
  cudaFree(p);
}

void CudaBackend::copy_to_host(float* host, const float* src, size_t count) {
  if (!count) return;
  DASNET_CUDA_CHECK(cudaMemcpyAsync(host, src, count * sizeof(float), cudaMemcpyDeviceToHost, state_->stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
}

void CudaBackend::copy_from_host(float* dst, const float* host, size_t count) {
  if (!count) return;
  DASNET_CUDA_CHECK(cudaMemcpyAsync(dst, host, count * sizeof(float), cudaMemcpyHostToDevice, state_->stream));
  // The caller may reuse `host` at once; pageable copies are only staged, so wait.
  DASNET_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
}

void CudaBackend::copy(float* dst, const float* src, size_t count) {
  if (!count || dst == src) return;
  DASNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, state_->stream));
}

void CudaBackend::fill(float* dst, size_t count, float value) { cuda::launch_fill(dst, count, value, state_->stream); }

// Images go through the pinned staging buffer: the host copy returns at once and the device
// copy overlaps with nothing else only if it must (we wait for the previous batch's copy).
void CudaBackend::from_nchw(const float* host_nchw, Tensor& dst) {
  State& s = *state_;
  const size_t count = dst.numel();
  if (!count) return;
  if (s.capturing()) s.graph->note_images(count);
  else s.staging.wait_for_images();
  s.staging.images.ensure(count, s.capturing(), "the input batch");
  std::memcpy(s.staging.images.data, host_nchw, count * sizeof(float));
  // 16-bit or multi-channel NHWC activations: the fp32 NCHW images land in a device buffer and
  // are rounded or reordered from there (one channel is the same in NCHW and NHWC).
  const bool reorder = channels_last(dst, "from_nchw") && dst.shape.c > 1;
  float* landing = dst.data;
  if (dst.dtype != DType::F32 || reorder) {
    s.images_fp32.ensure(count, s.capturing(), "the input batch", s.stream);
    landing = s.images_fp32.data;
  }
  DASNET_CUDA_CHECK(cudaMemcpyAsync(landing, s.staging.images.data, count * sizeof(float), cudaMemcpyHostToDevice,
                                    s.stream));
  if (reorder)
    to_channels_last(dst.dtype, landing, dst.data, dst.shape.n, dst.shape.c, plane_of(dst.shape), s.stream);
  else if (dst.dtype != DType::F32)
    narrow(dst.dtype, landing, dst.data, count, s.stream);
  if (!s.capturing()) {
    DASNET_CUDA_CHECK(cudaEventRecord(s.staging.images_consumed, s.stream));
    s.staging.images_pending = true;
  }
}

void CudaBackend::to_nchw(const Tensor& src, float* host_nchw) {
  const bool reorder = channels_last(src, "to_nchw") && src.shape.c > 1;
  if (src.dtype == DType::F32 && !reorder) return copy_to_host(host_nchw, src.data, src.numel());
  State& s = *state_;
  s.images_fp32.ensure(src.numel(), s.capturing(), "a tensor copied to the host", s.stream);
  if (reorder)
    from_channels_last(src.dtype, src.data, s.images_fp32.data, src.shape.n, src.shape.c, plane_of(src.shape),
                       s.stream);
  else
    widen(src.dtype, src.data, s.images_fp32.data, src.numel(), s.stream);
  copy_to_host(host_nchw, s.images_fp32.data, src.numel());
}

// --- Convolutions (cuDNN) -------------------------------------------------------------------

// cuDNN convolves 16-bit activations with weights of the same type (fp32 accumulation), and NHWC
// activations with OHWI (KRSC) weights. The parameters stay fp32 OIHW (PyTorch's, the optimizer's
// and the checkpoints'), so such a call first rounds and/or reorders the layer's weights into a
// working copy (a few thousand values), and the weight gradient comes back the same way.
const float* CudaBackend::weights_for(const ConvGeometry& g, const Tensor& x, const float* w) {
  const bool nhwc = channels_last(x, "convolution");
  if (x.dtype == DType::F32 && !nhwc) return w;
  State& s = *state_;
  s.weights_working.ensure(g.weight_count(), s.capturing(), "convolution weights", s.stream);
  if (nhwc)
    to_channels_last(x.dtype, w, s.weights_working.data, g.out_channels, g.in_channels, size_t(g.kernel) * g.kernel,
                     s.stream);
  else
    narrow(x.dtype, w, s.weights_working.data, g.weight_count(), s.stream);
  return s.weights_working.data;
}

void CudaBackend::conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  require_like(x, {&y}, "conv_forward");
  state_->convolutions->forward(g, x, weights_for(g, x, w), y);
}

void CudaBackend::conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                     bool accumulate, float* scratch) {
  require_like(dy, {&dx}, "conv_backward_data");
  state_->convolutions->backward_data(g, dy, weights_for(g, dy, w), dx, accumulate, scratch);
}

void CudaBackend::conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  require_like(x, {&dy}, "conv_backward_weights");
  const bool nhwc = channels_last(x, "conv_backward_weights");
  if (x.dtype == DType::F32 && !nhwc) return state_->convolutions->backward_weights(g, x, dy, dw);
  State& s = *state_;
  s.weights_working.ensure(g.weight_count(), s.capturing(), "convolution weights", s.stream);
  state_->convolutions->backward_weights(g, x, dy, s.weights_working.data);
  if (nhwc)
    from_channels_last(x.dtype, s.weights_working.data, dw, g.out_channels, g.in_channels,
                       size_t(g.kernel) * g.kernel, s.stream);
  else
    widen(x.dtype, s.weights_working.data, dw, g.weight_count(), s.stream);
}

// --- Batchnorm (hand-written: the split contract of statistics, coefficients, fused
// scale-shift-add-ReLU and a backward through ReLU with a residual gradient has no cuDNN
// counterpart in fp32 NCHW; fused kernels read each tensor the fewest times) ------------------

void CudaBackend::channel_statistics(const Tensor& x, float* mean, float* var) {
  const bool nhwc = channels_last(x, "channel_statistics");
  State& s = *state_;
  s.reduction_scratch.ensure(cuda::channel_reduction_scratch(x.shape.n, x.shape.c, nhwc), s.capturing(),
                             "reduction scratch", s.stream);
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_channel_statistics(elements<const T>(x), mean, var, x.shape.n, x.shape.c, plane_of(x.shape), nhwc,
                                    s.reduction_scratch.data, s.stream);
  });
}

void CudaBackend::scale_shift_activate(const Tensor& x, const float* scale, const float* shift, const Tensor* residual,
                                       bool relu, Tensor& y) {
  const bool nhwc = channels_last(x, "scale_shift_activate");
  require_like(x, {&y, residual}, "scale_shift_activate");
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_scale_shift_activate(elements<const T>(x), scale, shift, elements_or_null<const T>(residual), relu,
                                      elements<T>(y), x.shape.n, x.shape.c, plane_of(x.shape), nhwc, state_->stream);
  });
}

void CudaBackend::channel_sums(const Tensor& x, double* sums_host) {
  const bool nhwc = channels_last(x, "channel_sums");
  State& s = *state_;
  // The sums go to the host for the other ranks: a graph cannot capture that round trip.
  if (s.capturing()) throw std::logic_error("CUDA backend: synchronized batchnorm inside a graph capture");
  const int n = x.shape.n, channels = x.shape.c;
  s.reduction_scratch.ensure(cuda::channel_reduction_scratch(n, channels, nhwc), false, "reduction scratch", s.stream);
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_channel_sums(elements<const T>(x), n, channels, plane_of(x.shape), nhwc, s.reduction_scratch.data,
                              s.stream);
  });
  DASNET_CUDA_CHECK(cudaMemcpyAsync(sums_host,
                                    cuda::channel_reduction_result(s.reduction_scratch.data, n, channels, nhwc),
                                    size_t(channels) * 2 * sizeof(double), cudaMemcpyDeviceToHost, s.stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

void CudaBackend::batchnorm_backward(const Tensor& dy, const Tensor* relu_output, const Tensor& x, const float* mean,
                                     const float* invstd, const float* gamma, Tensor& dx, float* dgamma, float* dbeta,
                                     Tensor* dresidual, bool accumulate_residual, ChannelReducer* reducer) {
  const bool nhwc = channels_last(x, "batchnorm_backward");
  State& s = *state_;
  if (reducer && s.capturing()) throw std::logic_error("CUDA backend: synchronized batchnorm inside a graph capture");
  const int n = x.shape.n, channels = x.shape.c;
  const size_t plane = plane_of(x.shape);
  require_like(x, {&dy, relu_output, &dx, dresidual}, "batchnorm_backward");
  s.reduction_scratch.ensure(cuda::channel_reduction_scratch(n, channels, nhwc), s.capturing(), "reduction scratch",
                             s.stream);
  double* scratch = s.reduction_scratch.data;
  const double local_count = double(n) * double(plane);
  // Synchronized: raw sums (divisor 1) to the host, summed over the ranks, means back to the device.
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_batchnorm_backward_sums(elements<const T>(dy), elements_or_null<const T>(relu_output),
                                         elements<const T>(x), mean, invstd, dgamma, dbeta,
                                         reducer ? 1.0 : local_count, n, channels, plane, nhwc, scratch, s.stream);
  });
  // A rank with no samples still takes part: the others wait for its sums.
  if (reducer && channels > 0) {
    double* result = cuda::channel_reduction_result(scratch, n, channels, nhwc);
    std::vector<double> sums(size_t(channels) * 2);
    const size_t bytes = sums.size() * sizeof(double);
    DASNET_CUDA_CHECK(cudaMemcpyAsync(sums.data(), result, bytes, cudaMemcpyDeviceToHost, s.stream));
    DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
    const double global_count = sum_with_count(*reducer, sums, local_count);
    for (double& v : sums) v /= global_count;
    DASNET_CUDA_CHECK(cudaMemcpyAsync(result, sums.data(), bytes, cudaMemcpyHostToDevice, s.stream));
    DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // `sums` is pageable and goes out of scope
  }
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_batchnorm_backward_apply(elements<const T>(dy), elements_or_null<const T>(relu_output),
                                          elements<const T>(x), mean, invstd, gamma, elements<T>(dx),
                                          elements_or_null<T>(dresidual), accumulate_residual, n, channels, plane,
                                          nhwc, scratch, s.stream);
  });
}

void CudaBackend::batchnorm_coefficients(int channels, const float* batch_mean, const float* batch_var,
                                         const float* gamma, const float* beta, float* running_mean,
                                         float* running_var, long count, float momentum, float eps, bool training,
                                         float* scale, float* shift, float* invstd) {
  cuda::launch_batchnorm_coefficients(channels, batch_mean, batch_var, gamma, beta, running_mean, running_var, count,
                                      momentum, eps, training, scale, shift, invstd, state_->stream);
}

// --- Elementwise -------------------------------------------------------------------------------

void CudaBackend::relu_forward(const Tensor& x, Tensor& y) {
  require_like(x, {&y}, "relu_forward");
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_relu_forward(elements<const T>(x), elements<T>(y), x.numel(), state_->stream);
  });
}

void CudaBackend::relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) {
  require_like(dy, {&y, &dx}, "relu_backward");
  with_element_type(dy, [&](auto type) {
    using T = decltype(type);
    cuda::launch_relu_backward(elements<const T>(dy), elements<const T>(y), elements<T>(dx), dy.numel(), accumulate,
                               state_->stream);
  });
}

void CudaBackend::pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) {
  require_like(src, {&dst}, "pass_gradient");
  if (!accumulate) {
    if (src.numel() && dst.data != src.data)
      DASNET_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, src.numel() * element_bytes(src.dtype),
                                        cudaMemcpyDeviceToDevice, state_->stream));
    return;
  }
  with_element_type(src, [&](auto type) {
    using T = decltype(type);
    cuda::launch_accumulate(elements<const T>(src), elements<T>(dst), src.numel(), state_->stream);
  });
}

void CudaBackend::add(const Tensor& a, const Tensor& b, Tensor& y) {
  require_like(a, {&b, &y}, "add");
  with_element_type(a, [&](auto type) {
    using T = decltype(type);
    cuda::launch_add(elements<const T>(a), elements<const T>(b), elements<T>(y), a.numel(), state_->stream);
  });
}

void CudaBackend::global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const bool nhwc = channels_last(x, "global_avg_pool_forward");
  require_dtype(y, DType::F32, "global_avg_pool_forward");
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_global_avg_pool_forward(elements<const T>(x), y.data, x.shape.n, x.shape.c, plane_of(x.shape), nhwc,
                                         state_->stream);
  });
}

void CudaBackend::global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate) {
  const bool nhwc = channels_last(dx, "global_avg_pool_backward");
  require_dtype(dy, DType::F32, "global_avg_pool_backward");
  with_element_type(dx, [&](auto type) {
    using T = decltype(type);
    cuda::launch_global_avg_pool_backward(dy.data, elements<T>(dx), dx.shape.n, dx.shape.c, plane_of(dx.shape), nhwc,
                                          accumulate, state_->stream);
  });
}

// --- Linear (cuBLAS). Row-major y[N x out] = x[N x in] W^T is column-major y^T = W x^T. --------

void CudaBackend::linear_forward(const Tensor& x, const float* w, const float* b, int out_features, Tensor& y) {
  cuda::require_linear_features(x, "linear_forward");
  State& s = *state_;
  const int n = x.shape.n, in = int(x.shape.per_sample());
  float beta = 0.0f;
  if (b) {
    cuda::launch_broadcast_rows(b, y.data, n, out_features, s.stream);
    beta = 1.0f;
  }
  const float one = 1.0f;
  DASNET_CUBLAS_CHECK(cublasSgemm(s.blas, CUBLAS_OP_T, CUBLAS_OP_N, out_features, n, in, &one, w, in, x.data, in, &beta,
                                  y.data, out_features));
}

void CudaBackend::linear_backward(const Tensor& x, const Tensor& dy, const float* w, int out_features, Tensor* dx,
                                  bool accumulate, float* dw, float* db) {
  cuda::require_linear_features(x, "linear_backward");
  State& s = *state_;
  const int n = x.shape.n, in = int(x.shape.per_sample());
  const float one = 1.0f, zero = 0.0f;
  if (dx) {  // dx^T[in x N] = W^T[in x out] dy^T[out x N]
    const float beta = accumulate ? 1.0f : 0.0f;
    DASNET_CUBLAS_CHECK(cublasSgemm(s.blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out_features, &one, w, in, dy.data,
                                    out_features, &beta, dx->data, in));
  }
  // dW^T[in x out] = x^T[in x N] dy[N x out]
  DASNET_CUBLAS_CHECK(cublasSgemm(s.blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out_features, n, &one, x.data, in, dy.data,
                                  out_features, &zero, dw, in));
  if (db) cuda::launch_column_sums(dy.data, db, n, out_features, s.stream);
}

// --- Loss, optimizer, diagnostics --------------------------------------------------------------

LossTotals CudaBackend::loss(OutputMode mode, const Tensor& logits, const int* labels_host, Tensor* dlogits,
                             Tensor* probabilities) {
  require_dtype(logits, DType::F32, "loss");
  State& s = *state_;
  const int n = logits.shape.n, k = int(logits.shape.per_sample());
  validate_labels(mode, n, k, labels_host);
  s.staging.labels.ensure(size_t(n), s.capturing(), "the label batch");
  s.labels.ensure(size_t(n), s.capturing(), "the label batch", s.stream);
  std::memcpy(s.staging.labels.data, labels_host, size_t(n) * sizeof(int));
  DASNET_CUDA_CHECK(cudaMemcpyAsync(s.labels.data, s.staging.labels.data, size_t(n) * sizeof(int),
                                    cudaMemcpyHostToDevice, s.stream));
  // fp16: the loss gradient carries the loss scale (removed again in unscale_gradients).
  const float* gradient_scale = s.loss_scaler ? s.loss_scaler->gradient_scale() : nullptr;
  cuda::launch_loss(loss_kind(mode), logits.data, s.labels.data, n, k, dlogits ? dlogits->data : nullptr,
                    probabilities ? probabilities->data : nullptr, gradient_scale, s.results.data, s.stream);
  DASNET_CUDA_CHECK(cudaMemcpyAsync(s.staging.results.data, s.results.data, 2 * sizeof(double),
                                    cudaMemcpyDeviceToHost, s.stream));
  if (s.capturing()) {  // totals arrive with each replay
    s.graph->note_loss(mode, n, k);
    return {};
  }
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  LossTotals totals;
  totals.loss_sum = s.staging.results.data[0];
  totals.correct = long(std::llround(s.staging.results.data[1]));
  return totals;
}

void CudaBackend::sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr,
                             float momentum, float weight_decay, bool nesterov) {
  State& s = *state_;
  // The learning rate changes between replays: a captured step reads it from device memory.
  const float* lr_on_device = s.capturing() ? s.graph->learning_rate_on_device(lr) : nullptr;
  const float* skip = s.loss_scaler ? s.loss_scaler->overflowed() : nullptr;
  cuda::launch_sgd_update(params, grads, velocity, count, lr, lr_on_device, skip, momentum, weight_decay, nesterov,
                          s.stream);
}

void CudaBackend::unscale_gradients(float* grads, size_t count) {
  if (state_->loss_scaler) state_->loss_scaler->unscale(grads, count);
}

void CudaBackend::finish_optimizer_step() {
  if (state_->loss_scaler) state_->loss_scaler->finish_step();
}

std::vector<double> CudaBackend::optimizer_state() {
  if (!state_->loss_scaler) return {};
  if (capturing()) throw std::logic_error("optimizer_state returns host values: not allowed inside a graph capture");
  return state_->loss_scaler->saved();
}

void CudaBackend::restore_optimizer_state(const std::vector<double>& saved) {
  // A checkpoint of another precision (no loss scale, or one this run does not use) changes nothing.
  if (!state_->loss_scaler || !cuda::LossScaler::restorable(saved)) return;
  if (capturing()) throw std::logic_error("restore_optimizer_state inside a graph capture");
  state_->loss_scaler->restore(saved);
}

CudaBackend::LossScale CudaBackend::loss_scale() {
  if (!state_->loss_scaler) return {};
  if (capturing()) throw std::logic_error("loss_scale returns host values: not allowed inside a graph capture");
  return state_->loss_scaler->read();
}

double CudaBackend::sum_squares(const float* x, size_t count) {
  State& s = *state_;
  if (s.capturing()) throw std::logic_error("sum_squares returns a host value: not allowed inside a graph capture");
  s.reduction_scratch.ensure(cuda::sum_squares_scratch(), false, "reduction scratch", s.stream);
  cuda::launch_sum_squares(x, count, s.reduction_scratch.data, s.results.data + 2, s.stream);
  double result = 0;
  DASNET_CUDA_CHECK(cudaMemcpyAsync(&result, s.results.data + 2, sizeof(double), cudaMemcpyDeviceToHost, s.stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  return result;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

}  // namespace dasnet
