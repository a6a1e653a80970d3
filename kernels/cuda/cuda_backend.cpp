#include "kernels/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cudnn_ops.h"
#include "kernels/cuda/kernels.h"

namespace dasnet {

using cuda::device_allocate;

CudaPrecision parse_cuda_precision(const std::string& name) {
  if (name == "fp32") return CudaPrecision::Fp32;
  if (name == "tf32") return CudaPrecision::Tf32;
  if (name == "bf16") return CudaPrecision::Bf16;
  if (name == "fp16") return CudaPrecision::Fp16;
  throw UsageError("--precision: unknown precision '" + name + "' (valid: fp32, tf32, bf16, fp16)");
}

const char* cuda_precision_name(CudaPrecision precision) {
  switch (precision) {
    case CudaPrecision::Tf32: return "tf32";
    case CudaPrecision::Bf16: return "bf16";
    case CudaPrecision::Fp16: return "fp16";
    case CudaPrecision::Fp32: break;
  }
  return "fp32";
}

CudaOptions CudaOptions::from_environment() {
  CudaOptions o;
  if (const char* v = std::getenv("DASNET_CUDA_PRECISION"); v && *v) o.precision = parse_cuda_precision(v);
  if (const char* v = std::getenv("DASNET_CUDA_DETERMINISTIC"); v && *v) o.deterministic = std::strcmp(v, "0") != 0;
  if (const char* v = std::getenv("DASNET_CUDA_WORKSPACE_MB"); v && *v) {
    long mb = std::atol(v);
    if (mb <= 0) throw UsageError("DASNET_CUDA_WORKSPACE_MB must be a positive number of MiB, got '" + std::string(v) + "'");
    o.workspace_limit_bytes = size_t(mb) << 20;
  }
  if (const char* v = std::getenv("DASNET_CUDA_DEVICE"); v && *v) {
    char* end = nullptr;
    long device = std::strtol(v, &end, 10);
    if (*end || device < 0) throw UsageError("DASNET_CUDA_DEVICE must be a device index >= 0, got '" + std::string(v) + "'");
    o.device = int(device);
  }
  if (const char* v = std::getenv("DASNET_CUDA_VERBOSE"); v && *v) o.verbose = std::strcmp(v, "0") != 0;
  if (const char* v = std::getenv("DASNET_CUDA_LAYOUT"); v && *v) {
    const std::string layout = v;
    if (layout != "nchw" && layout != "nhwc")
      throw UsageError("DASNET_CUDA_LAYOUT must be nchw or nhwc, got '" + layout + "'");
    o.channels_last = layout == "nhwc";
  }
  if (const char* v = std::getenv("DASNET_CUDA_LOSS_SCALE"); v && *v) {
    char* end = nullptr;
    o.initial_loss_scale = std::strtof(v, &end);
    if (*end || !(o.initial_loss_scale >= 1))
      throw UsageError("DASNET_CUDA_LOSS_SCALE must be a number >= 1, got '" + std::string(v) + "'");
  }
  return o;
}

bool cuda_device_available(std::string* why) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device visible";
    return false;
  }
  return true;
}

namespace {

constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

// A CUDA handle (stream, event, cuBLAS handle, graph) destroyed with its holder; errors while
// destroying are not reported (destructors do not throw).
template <typename Handle, auto Destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }
  Handle get() const { return handle_; }
  operator Handle() const { return handle_; }
  Handle* out() {  // for the create call: any previous handle is destroyed first
    reset();
    return &handle_;
  }
  void reset() {
    if (handle_) (void)Destroy(handle_);
    handle_ = nullptr;
  }

 private:
  Handle handle_ = nullptr;
};
using UniqueStream = UniqueHandle<cudaStream_t, cudaStreamDestroy>;
using UniqueEvent = UniqueHandle<cudaEvent_t, cudaEventDestroy>;
using UniqueBlas = UniqueHandle<cublasHandle_t, cublasDestroy>;
using UniqueGraphExec = UniqueHandle<cudaGraphExec_t, cudaGraphExecDestroy>;

// Grow-only pinned host buffer: host inputs pass through it so that copies are truly
// asynchronous and a captured graph has a fixed address to copy from.
template <typename T>
struct PinnedBuffer {
  T* data = nullptr;
  size_t count = 0;
  size_t reallocations = 0;  // a captured graph copies from the old address
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data) cudaFreeHost(data);
  }
  void ensure(size_t needed, bool capturing, const char* what) {
    if (needed <= count) return;
    if (capturing)
      throw std::logic_error(std::string("CUDA graph capture: ") + what + " larger than in the plain step before");
    ++reallocations;
    if (data) DASNET_CUDA_CHECK(cudaFreeHost(data));
    data = nullptr;
    count = 0;
    DASNET_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&data), needed * sizeof(T)));
    count = needed;
  }
};

// Grow-only device buffer for small scratch (reduction partials, labels). Its holder waits for
// the stream before it goes (cudaFree does not wait for kernels on non-blocking streams).
template <typename T>
struct DeviceBuffer {
  T* data = nullptr;
  size_t count = 0;
  size_t reallocations = 0;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data) cudaFree(data);
  }
  // `stream`: where kernels that may still use the old buffer are queued (waited for before it is freed).
  void ensure(size_t needed, bool capturing, const char* what, cudaStream_t stream) {
    if (needed <= count) return;
    if (capturing)
      throw std::logic_error(std::string("CUDA graph capture: ") + what + " larger than in the plain step before");
    ++reallocations;
    if (data) {
      DASNET_CUDA_CHECK(cudaStreamSynchronize(stream));
      DASNET_CUDA_CHECK(cudaFree(data));
    }
    data = nullptr;
    count = 0;
    data = static_cast<T*>(device_allocate(needed * sizeof(T), what));
    count = needed;
  }
};

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

// NCHW or NHWC (the CUDA backend's layouts); true for NHWC.
bool channels_last(const Tensor& t, const char* op) {
  if (t.layout != Layout::NCHW && t.layout != Layout::NHWC)
    throw std::logic_error(std::string(op) + ": the CUDA backend takes NCHW or NHWC tensors");
  return t.layout == Layout::NHWC;
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

constexpr int kLossScaleGrowthInterval = 2000;  // clean steps before the scale doubles (PyTorch's default)

void require_dtype(const Tensor& t, DType expected, const char* op) {
  if (t.dtype != expected)
    throw std::logic_error(std::string(op) + ": " + dtype_name(t.dtype) + " tensor where " + dtype_name(expected) +
                           " was expected");
}

void require_layout(const Tensor& t, Layout expected, const char* op) {
  if (t.layout != expected) throw std::logic_error(std::string(op) + ": tensors of different layouts");
}

}  // namespace

// Every member releases itself, in the reverse of this order, after ~State has waited for the
// stream: a constructor that throws half-way leaks nothing.
struct CudaBackend::State {
  int device = 0;
  UniqueStream stream;
  UniqueBlas blas;
  DeviceBuffer<char> blas_workspace;
  std::unique_ptr<cuda::CudnnConvolutions> convolutions;
  DeviceBuffer<double> reduction_scratch;
  DeviceBuffer<double> results;  // [0..1] loss totals, [2] sum of squares
  DeviceBuffer<int> labels;
  DeviceBuffer<float> learning_rate;
  // 16-bit activations: fp32 images before conversion; convolution weights (and weight
  // gradients) in the 16-bit type; fp16's loss-scaling state.
  DeviceBuffer<float> images_fp32;
  DeviceBuffer<float> weights_working;  // room for fp32 (NHWC reorders fp32 weights too)
  DeviceBuffer<cuda::LossScaleState> loss_scale;
  PinnedBuffer<float> staged_images;
  PinnedBuffer<int> staged_labels;
  PinnedBuffer<double> staged_results;
  PinnedBuffer<float> staged_learning_rate;
  UniqueEvent images_consumed;  // the last copy out of staged_images finished
  bool images_pending = false;
  // Graph capture.
  bool capturing = false;
  bool captured_learning_rate = false;
  float captured_lr_value = 0;
  size_t captured_image_count = 0;
  int captured_label_count = 0;
  OutputMode captured_mode = OutputMode::Softmax;
  int captured_outputs = 0;
  UniqueGraphExec graph;
  std::vector<float*> frees_after_capture;  // buffers that went while a graph was being captured
  size_t allocations = 0;  // allocate() and release() calls

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (stream) cudaStreamSynchronize(stream);  // queued work may still use the buffers
    free_deferred();
  }
  void free_deferred() {
    for (float* p : frees_after_capture) cudaFree(p);
    frees_after_capture.clear();
  }
};

CudaBackend::CudaBackend(const CudaOptions& options) : options_(options), state_(std::make_unique<State>()) {
  std::string why;
  if (!cuda_device_available(&why)) throw std::runtime_error("--backend cuda: no CUDA device: " + why);
  State& s = *state_;
  if (options.device >= 0) DASNET_CUDA_CHECK(cudaSetDevice(options.device));
  DASNET_CUDA_CHECK(cudaGetDevice(&s.device));
  if (options.precision == CudaPrecision::Bf16) {
    cudaDeviceProp prop{};
    DASNET_CUDA_CHECK(cudaGetDeviceProperties(&prop, s.device));
    if (prop.major < 8)
      throw UsageError(std::string("--precision bf16 needs a GPU of compute capability 8.0 or newer (A100, H100, "
                                   "H200); ") + prop.name + " is " + std::to_string(prop.major) + "." +
                       std::to_string(prop.minor) + ": use fp32");
  }
  DASNET_CUDA_CHECK(cudaStreamCreateWithFlags(s.stream.out(), cudaStreamNonBlocking));
  DASNET_CUDA_CHECK(cudaEventCreateWithFlags(s.images_consumed.out(), cudaEventDisableTiming));
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
  s.learning_rate.ensure(1, false, "learning rate", s.stream);
  s.staged_results.ensure(4, false, "loss totals");
  s.staged_learning_rate.ensure(1, false, "learning rate");
  if (options.precision == CudaPrecision::Fp16) {
    if (!(options.initial_loss_scale >= 1)) throw UsageError("the initial loss scale must be >= 1");
    s.loss_scale.ensure(1, false, "the loss scale", s.stream);
    const cuda::LossScaleState initial{options.initial_loss_scale, 0.0f, 0, 0};
    DASNET_CUDA_CHECK(cudaMemcpyAsync(s.loss_scale.data, &initial, sizeof initial, cudaMemcpyHostToDevice, s.stream));
    DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  }
}

CudaBackend::~CudaBackend() = default;

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
  if (state_->capturing) throw std::logic_error("CUDA backend: allocation inside a graph capture");
  float* p = static_cast<float*>(device_allocate(count * sizeof(float), "activations or parameters"));
  ++state_->allocations;
  DASNET_CUDA_CHECK(cudaMemsetAsync(p, 0, std::max<size_t>(count, 1) * sizeof(float), state_->stream));
  return p;
}

void CudaBackend::release_memory(float* p) noexcept {
  State& s = *state_;
  ++s.allocations;
  // A capture (a step that threw half-way) must not see a free: it happens after end_capture.
  if (s.capturing) {
    s.frees_after_capture.push_back(p);
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
  if (s.capturing) {
    s.staged_images.ensure(count, true, "the input batch");
    s.captured_image_count = count;
  } else {
    if (s.images_pending) DASNET_CUDA_CHECK(cudaEventSynchronize(s.images_consumed));
    s.staged_images.ensure(count, false, "the input batch");
  }
  std::memcpy(s.staged_images.data, host_nchw, count * sizeof(float));
  // 16-bit or multi-channel NHWC activations: the fp32 NCHW images land in a device buffer and
  // are rounded or reordered from there (one channel is the same in NCHW and NHWC).
  const bool reorder = channels_last(dst, "from_nchw") && dst.shape.c > 1;
  float* landing = dst.data;
  if (dst.dtype != DType::F32 || reorder) {
    s.images_fp32.ensure(count, s.capturing, "the input batch", s.stream);
    landing = s.images_fp32.data;
  }
  DASNET_CUDA_CHECK(cudaMemcpyAsync(landing, s.staged_images.data, count * sizeof(float), cudaMemcpyHostToDevice,
                                    s.stream));
  if (reorder)
    to_channels_last(dst.dtype, landing, dst.data, dst.shape.n, dst.shape.c, plane_of(dst.shape), s.stream);
  else if (dst.dtype != DType::F32)
    narrow(dst.dtype, landing, dst.data, count, s.stream);
  if (!s.capturing) {
    DASNET_CUDA_CHECK(cudaEventRecord(s.images_consumed, s.stream));
    s.images_pending = true;
  }
}

void CudaBackend::to_nchw(const Tensor& src, float* host_nchw) {
  const bool reorder = channels_last(src, "to_nchw") && src.shape.c > 1;
  if (src.dtype == DType::F32 && !reorder) return copy_to_host(host_nchw, src.data, src.numel());
  State& s = *state_;
  s.images_fp32.ensure(src.numel(), s.capturing, "a tensor copied to the host", s.stream);
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
  s.weights_working.ensure(g.weight_count(), s.capturing, "convolution weights", s.stream);
  if (nhwc)
    to_channels_last(x.dtype, w, s.weights_working.data, g.out_channels, g.in_channels, size_t(g.kernel) * g.kernel,
                     s.stream);
  else
    narrow(x.dtype, w, s.weights_working.data, g.weight_count(), s.stream);
  return s.weights_working.data;
}

void CudaBackend::conv_forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  require_dtype(y, x.dtype, "conv_forward");
  require_layout(y, x.layout, "conv_forward");
  state_->convolutions->forward(g, x, weights_for(g, x, w), y);
}

void CudaBackend::conv_backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                     bool accumulate, float* scratch) {
  require_dtype(dx, dy.dtype, "conv_backward_data");
  require_layout(dx, dy.layout, "conv_backward_data");
  state_->convolutions->backward_data(g, dy, weights_for(g, dy, w), dx, accumulate, scratch);
}

void CudaBackend::conv_backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  require_dtype(dy, x.dtype, "conv_backward_weights");
  require_layout(dy, x.layout, "conv_backward_weights");
  const bool nhwc = channels_last(x, "conv_backward_weights");
  if (x.dtype == DType::F32 && !nhwc) return state_->convolutions->backward_weights(g, x, dy, dw);
  State& s = *state_;
  s.weights_working.ensure(g.weight_count(), s.capturing, "convolution weights", s.stream);
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
  s.reduction_scratch.ensure(cuda::channel_reduction_scratch(x.shape.n, x.shape.c, nhwc), s.capturing,
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
  require_dtype(y, x.dtype, "scale_shift_activate");
  require_layout(y, x.layout, "scale_shift_activate");
  if (residual) {
    require_dtype(*residual, x.dtype, "scale_shift_activate");
    require_layout(*residual, x.layout, "scale_shift_activate");
  }
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
  if (s.capturing) throw std::logic_error("CUDA backend: synchronized batchnorm inside a graph capture");
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
  if (reducer && s.capturing) throw std::logic_error("CUDA backend: synchronized batchnorm inside a graph capture");
  const int n = x.shape.n, channels = x.shape.c;
  const size_t plane = plane_of(x.shape);
  for (const Tensor* t : {&dy, relu_output, static_cast<const Tensor*>(&dx), static_cast<const Tensor*>(dresidual)}) {
    if (!t) continue;
    require_dtype(*t, x.dtype, "batchnorm_backward");
    require_layout(*t, x.layout, "batchnorm_backward");
  }
  s.reduction_scratch.ensure(cuda::channel_reduction_scratch(n, channels, nhwc), s.capturing, "reduction scratch",
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
  require_dtype(y, x.dtype, "relu_forward");
  require_layout(y, x.layout, "relu_forward");
  with_element_type(x, [&](auto type) {
    using T = decltype(type);
    cuda::launch_relu_forward(elements<const T>(x), elements<T>(y), x.numel(), state_->stream);
  });
}

void CudaBackend::relu_backward(const Tensor& dy, const Tensor& y, Tensor& dx, bool accumulate) {
  require_dtype(y, dy.dtype, "relu_backward");
  require_dtype(dx, dy.dtype, "relu_backward");
  require_layout(y, dy.layout, "relu_backward");
  require_layout(dx, dy.layout, "relu_backward");
  with_element_type(dy, [&](auto type) {
    using T = decltype(type);
    cuda::launch_relu_backward(elements<const T>(dy), elements<const T>(y), elements<T>(dx), dy.numel(), accumulate,
                               state_->stream);
  });
}

void CudaBackend::pass_gradient(const Tensor& src, Tensor& dst, bool accumulate) {
  require_dtype(dst, src.dtype, "pass_gradient");
  require_layout(dst, src.layout, "pass_gradient");
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
  require_dtype(b, a.dtype, "add");
  require_dtype(y, a.dtype, "add");
  require_layout(b, a.layout, "add");
  require_layout(y, a.layout, "add");
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

namespace {
// The features must be in PyTorch's (C, H, W) order: NCHW, or a map of one pixel (pooled).
void require_linear_features(const Tensor& x, const char* op) {
  require_dtype(x, DType::F32, op);
  if (x.layout != Layout::NCHW && size_t(x.shape.h) * x.shape.w != 1)
    throw std::logic_error(std::string(op) + ": NHWC features of more than one pixel would be in HWC order");
}
}  // namespace

void CudaBackend::linear_forward(const Tensor& x, const float* w, const float* b, int out_features, Tensor& y) {
  require_linear_features(x, "linear_forward");
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
  require_linear_features(x, "linear_backward");
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
  s.staged_labels.ensure(size_t(n), s.capturing, "the label batch");
  s.labels.ensure(size_t(n), s.capturing, "the label batch", s.stream);
  std::memcpy(s.staged_labels.data, labels_host, size_t(n) * sizeof(int));
  DASNET_CUDA_CHECK(cudaMemcpyAsync(s.labels.data, s.staged_labels.data, size_t(n) * sizeof(int),
                                    cudaMemcpyHostToDevice, s.stream));
  // fp16: the loss gradient carries the loss scale (removed again in unscale_gradients).
  const float* gradient_scale = s.loss_scale.data ? &s.loss_scale.data->scale : nullptr;
  cuda::launch_loss(loss_kind(mode), logits.data, s.labels.data, n, k, dlogits ? dlogits->data : nullptr,
                    probabilities ? probabilities->data : nullptr, gradient_scale, s.results.data, s.stream);
  DASNET_CUDA_CHECK(cudaMemcpyAsync(s.staged_results.data, s.results.data, 2 * sizeof(double), cudaMemcpyDeviceToHost,
                                    s.stream));
  if (s.capturing) {  // totals arrive with each replay
    s.captured_label_count = n;
    s.captured_mode = mode;
    s.captured_outputs = k;
    return {};
  }
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  LossTotals totals;
  totals.loss_sum = s.staged_results.data[0];
  totals.correct = long(std::llround(s.staged_results.data[1]));
  return totals;
}

void CudaBackend::sgd_update(float* params, const float* grads, float* velocity, size_t count, float lr,
                             float momentum, float weight_decay, bool nesterov) {
  State& s = *state_;
  const float* lr_on_device = nullptr;
  if (s.capturing) {
    // The learning rate changes between replays: the graph copies it from pinned memory.
    if (!s.captured_learning_rate) {
      s.staged_learning_rate.data[0] = lr;
      DASNET_CUDA_CHECK(cudaMemcpyAsync(s.learning_rate.data, s.staged_learning_rate.data, sizeof(float),
                                        cudaMemcpyHostToDevice, s.stream));
      s.captured_learning_rate = true;
      s.captured_lr_value = lr;
    } else if (lr != s.captured_lr_value) {
      throw std::logic_error("CUDA graph capture: one learning rate per captured step");
    }
    lr_on_device = s.learning_rate.data;
  }
  const float* skip = s.loss_scale.data ? &s.loss_scale.data->found_inf : nullptr;
  cuda::launch_sgd_update(params, grads, velocity, count, lr, lr_on_device, skip, momentum, weight_decay, nesterov,
                          s.stream);
}

void CudaBackend::unscale_gradients(float* grads, size_t count) {
  State& s = *state_;
  if (s.loss_scale.data) cuda::launch_unscale_gradients(grads, count, s.loss_scale.data, s.stream);
}

void CudaBackend::finish_optimizer_step() {
  State& s = *state_;
  if (s.loss_scale.data) cuda::launch_update_loss_scale(s.loss_scale.data, kLossScaleGrowthInterval, s.stream);
}

std::vector<double> CudaBackend::optimizer_state() {
  if (!state_->loss_scale.data) return {};
  const LossScale current = loss_scale();
  return {current.scale, double(current.clean_steps), double(current.skipped_steps)};
}

void CudaBackend::restore_optimizer_state(const std::vector<double>& saved) {
  State& s = *state_;
  // A checkpoint of another precision (no loss scale, or one this run does not use) changes nothing.
  if (!s.loss_scale.data || saved.size() != 3 || !(saved[0] >= 1)) return;
  if (s.capturing) throw std::logic_error("restore_optimizer_state inside a graph capture");
  const cuda::LossScaleState state{float(saved[0]), 0.0f, int(saved[1]), int(saved[2])};
  DASNET_CUDA_CHECK(cudaMemcpyAsync(s.loss_scale.data, &state, sizeof state, cudaMemcpyHostToDevice, s.stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // `state` lives on this stack frame
}

CudaBackend::LossScale CudaBackend::loss_scale() {
  State& s = *state_;
  if (!s.loss_scale.data) return {};
  if (s.capturing) throw std::logic_error("loss_scale returns host values: not allowed inside a graph capture");
  cuda::LossScaleState state{};
  DASNET_CUDA_CHECK(cudaMemcpyAsync(&state, s.loss_scale.data, sizeof state, cudaMemcpyDeviceToHost, s.stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  return {state.scale, state.clean_steps, state.skipped_steps};
}

double CudaBackend::sum_squares(const float* x, size_t count) {
  State& s = *state_;
  if (s.capturing) throw std::logic_error("sum_squares returns a host value: not allowed inside a graph capture");
  s.reduction_scratch.ensure(cuda::sum_squares_scratch(), false, "reduction scratch", s.stream);
  cuda::launch_sum_squares(x, count, s.reduction_scratch.data, s.results.data + 2, s.stream);
  double result = 0;
  DASNET_CUDA_CHECK(cudaMemcpyAsync(&result, s.results.data + 2, sizeof(double), cudaMemcpyDeviceToHost, s.stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  return result;
}

// --- CUDA graphs ---------------------------------------------------------------------------------

void CudaBackend::begin_capture() {
  State& s = *state_;
  if (s.capturing) throw std::logic_error("begin_capture: already capturing");
  drop_graph();
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // staging buffers are free, nothing in flight
  s.images_pending = false;
  s.captured_learning_rate = false;
  s.captured_image_count = 0;
  s.captured_label_count = 0;
  // Relaxed mode: other threads (the loader) may use the CUDA API meanwhile without breaking us.
  DASNET_CUDA_CHECK(cudaStreamBeginCapture(s.stream, cudaStreamCaptureModeRelaxed));
  s.capturing = true;
}

void CudaBackend::end_capture() {
  State& s = *state_;
  if (!s.capturing) throw std::logic_error("end_capture without begin_capture");
  s.capturing = false;
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(s.stream, &graph);
  s.free_deferred();
  DASNET_CUDA_CHECK(ended);
  cudaError_t status = cudaGraphInstantiateWithFlags(s.graph.out(), graph, 0);  // same call in CUDA 11.4 to 13
  cudaGraphDestroy(graph);
  if (status != cudaSuccess) s.graph.reset();  // has_graph() must not see a failed instantiation
  DASNET_CUDA_CHECK(status);
}

bool CudaBackend::has_graph() const { return state_->graph != nullptr; }

size_t CudaBackend::memory_generation() const {
  const State& s = *state_;
  // The pinned staging buffers count too: the graph's copies read their old addresses.
  return s.allocations + s.reduction_scratch.reallocations + s.labels.reallocations + s.images_fp32.reallocations +
         s.weights_working.reallocations +
         s.staged_images.reallocations + s.staged_labels.reallocations + s.convolutions->workspace_reallocations();
}

void CudaBackend::drop_graph() {
  state_->graph.reset();
}

LossTotals CudaBackend::replay(const float* images_nchw, size_t image_count, const int* labels, int label_count,
                               float lr) {
  State& s = *state_;
  if (!s.graph) throw std::logic_error("replay without a captured graph");
  if (image_count != s.captured_image_count || label_count != s.captured_label_count)
    throw std::logic_error("replay: batch differs from the captured one (" + std::to_string(image_count) + " values, " +
                           std::to_string(label_count) + " labels vs " + std::to_string(s.captured_image_count) +
                           ", " + std::to_string(s.captured_label_count) + ")");
  if (label_count) validate_labels(s.captured_mode, label_count, s.captured_outputs, labels);
  // The previous replay finished (we waited for its totals); a plain from_nchw since (an evaluation
  // or prediction) may still be copying out of staged_images.
  if (s.images_pending) DASNET_CUDA_CHECK(cudaEventSynchronize(s.images_consumed));
  s.images_pending = false;
  if (image_count) std::memcpy(s.staged_images.data, images_nchw, image_count * sizeof(float));
  if (label_count) std::memcpy(s.staged_labels.data, labels, size_t(label_count) * sizeof(int));
  s.staged_learning_rate.data[0] = lr;
  DASNET_CUDA_CHECK(cudaGraphLaunch(s.graph, s.stream));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  LossTotals totals;
  if (label_count) {
    totals.loss_sum = s.staged_results.data[0];
    totals.correct = long(std::llround(s.staged_results.data[1]));
  }
  return totals;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

}  // namespace dasnet
