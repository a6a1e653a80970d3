// Every cuDNN call of dasnet lives here.
//
// API choice: the legacy convolution API (cudnnConvolution*, cudnnFind*AlgorithmEx), not the
// graph/backend API. It exists unchanged in cuDNN 8.9 (the oldest we support, for CUDA 11.8 and
// V100 users) and 9.x, its algorithm search times real candidates on real buffers, and it needs
// no heuristics/engine-config plumbing that we could not test without a GPU. cuDNN 9 marks
// these entry points deprecated (warnings only when CUDNN_WARN_DEPRECATED is defined); we
// silence that warning for this file alone, on purpose. Moving to the graph API is the path
// once the legacy API is removed (it also unlocks fused conv+BN+ReLU epilogues).
#include "kernels/cuda/cudnn_ops.h"

#include <cudnn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cuda/cuda_check.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // legacy cuDNN API on purpose, see above
#endif

#define DASNET_CUDNN_CHECK(call) ::dasnet::cuda::check_cudnn((call), #call, __FILE__, __LINE__)

namespace dasnet::cuda {

namespace {

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  if (status == CUDNN_STATUS_ALLOC_FAILED)
    throw std::runtime_error(std::string("cuDNN could not allocate device memory in ") + call + " at " + file + ":" +
                             std::to_string(line) + ": try a smaller --batch-size");
  throw std::runtime_error(std::string("cuDNN error ") + cudnnGetErrorString(status) + " in " + call + " at " + file +
                           ":" + std::to_string(line));
}

enum class Direction { Forward, BackwardData, BackwardWeights };
const char* direction_name(Direction d) {
  return d == Direction::Forward ? "forward" : d == Direction::BackwardData ? "backward-data" : "backward-weights";
}

// One cached convolution: descriptors for (x, w, y) and the chosen algorithm.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algorithm = 0;
  size_t workspace = 0;
  bool searched = false;  // an algorithm was chosen (a failed search leaves it false: searched again)
};

using PlanKey = std::tuple<int, int, int, int, int, int, int, int, int, int, int>;  // direction, dtype, layout, x shape, geometry

cudnnDataType_t cudnn_type(DType dtype) {
  return dtype == DType::BF16 ? CUDNN_DATA_BFLOAT16 : dtype == DType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

bool stream_is_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  DASNET_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  return status != cudaStreamCaptureStatusNone;
}

}  // namespace

struct CudnnConvolutions::Impl {
  cudaStream_t stream = nullptr;
  ConvolutionOptions options;
  cudnnHandle_t handle = nullptr;
  std::map<PlanKey, ConvPlan> plans;
  void* workspace = nullptr;
  size_t workspace_size = 0;
  size_t reallocations = 0;

  ~Impl() {
    for (auto& [key, plan] : plans) {
      cudnnDestroyTensorDescriptor(plan.x);
      cudnnDestroyTensorDescriptor(plan.y);
      cudnnDestroyFilterDescriptor(plan.w);
      cudnnDestroyConvolutionDescriptor(plan.conv);
    }
    if (workspace) cudaFree(workspace);
    if (handle) cudnnDestroy(handle);
  }

  // Exact fp32: FMA math only, no TF32 (the fp32 default precision).
  bool exact_fp32(DType dtype) const { return dtype == DType::F32 && !options.tf32; }

  // NHWC tensors come with KRSC (OHWI) filters: the backend reorders the OIHW parameters.
  ConvPlan& plan_for(Direction d, const ConvGeometry& g, DType dtype, Layout layout, const Shape& xs, const Shape& ys,
                     bool* fresh) {
    PlanKey key{int(d), int(dtype), int(layout), xs.n, xs.c, xs.h, xs.w, g.out_channels, g.kernel, g.stride, g.padding};
    auto it = plans.find(key);
    *fresh = it == plans.end() || !it->second.searched;
    if (!*fresh) return it->second;
    if (stream_is_capturing(stream))
      throw std::logic_error(std::string("cuDNN ") + direction_name(d) + " convolution of a shape not seen before " +
                             "graph capture (" + xs.str() + "): run one plain step first");
    if (it != plans.end()) return it->second;  // descriptors set up; the last search failed
    ConvPlan plan;
    DASNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.x));
    DASNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.y));
    DASNET_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan.w));
    DASNET_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan.conv));
    // bf16 / fp16: 16-bit tensors and filters, fp32 accumulation (cuDNN's BFLOAT16 (sm_80+) and
    // PSEUDO_HALF configurations).
    const cudnnDataType_t type = cudnn_type(dtype);
    const cudnnTensorFormat_t format = layout == Layout::NHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    DASNET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.x, format, type, xs.n, xs.c, xs.h, xs.w));
    DASNET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.y, format, type, ys.n, ys.c, ys.h, ys.w));
    DASNET_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan.w, type, format, g.out_channels, g.in_channels, g.kernel,
                                                  g.kernel));
    DASNET_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan.conv, g.padding, g.padding, g.stride, g.stride, 1, 1,
                                                       CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    // FMA math keeps fp32 exact-fp32 (cuDNN's default math allows TF32 on Ampere and newer);
    // 16-bit types ask for tensor cores.
    DASNET_CUDNN_CHECK(cudnnSetConvolutionMathType(
        plan.conv, exact_fp32(dtype) ? CUDNN_FMA_MATH : dtype != DType::F32 ? CUDNN_TENSOR_OP_MATH : CUDNN_DEFAULT_MATH));
    int n = 0, c = 0, h = 0, w = 0;
    DASNET_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan.conv, plan.x, plan.w, &n, &c, &h, &w));
    if (n != ys.n || c != ys.c || h != ys.h || w != ys.w)
      throw std::logic_error("cuDNN convolution output " + std::to_string(n) + "x" + std::to_string(c) + "x" +
                             std::to_string(h) + "x" + std::to_string(w) + " differs from the planned " + ys.str());
    return plans.emplace(key, plan).first->second;
  }

  // The fastest candidate that succeeded, fits the cap, and is deterministic / fp32-only when asked.
  template <typename Perf>
  const Perf& choose(const std::vector<Perf>& results, int returned, Direction d, DType dtype, const Shape& xs) const {
    for (int i = 0; i < returned; ++i) {
      const Perf& p = results[i];
      if (p.status != CUDNN_STATUS_SUCCESS || p.memory > options.workspace_limit_bytes) continue;
      if (options.deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
      if (exact_fp32(dtype) && p.mathType != CUDNN_DEFAULT_MATH && p.mathType != CUDNN_FMA_MATH) continue;
      if (p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;  // FP16 down-conversion, not TF32
      return p;
    }
    throw std::runtime_error(std::string("cuDNN found no usable ") + direction_name(d) + " convolution algorithm for " +
                             xs.str() + " " + dtype_name(dtype) + (options.deterministic ? " (deterministic mode)" : "") +
                             " within the workspace cap of " + std::to_string(options.workspace_limit_bytes >> 20) +
                             " MiB (DASNET_CUDA_WORKSPACE_MB)");
  }

  // Scratch for the search: the cap, halved while the device cannot hold it.
  struct SearchWorkspace {
    void* data = nullptr;
    size_t bytes = 0;
    explicit SearchWorkspace(size_t limit) {
      for (bytes = limit; bytes >= (size_t(1) << 20); bytes /= 2) {
        if (cudaMalloc(&data, bytes) == cudaSuccess) return;
        (void)cudaGetLastError();
        data = nullptr;
      }
      bytes = 0;
    }
    ~SearchWorkspace() {
      if (data) cudaFree(data);
    }
  };

  // Times every candidate with one cudnnFind*AlgorithmEx call, `find(count, &returned, results,
  // scratch, scratch_bytes)`, and keeps the best. The search scratch is freed before settle()
  // allocates the chosen workspace, which may need most of that memory.
  template <typename Perf, typename Find>
  void search(ConvPlan& plan, int count, Direction d, DType dtype, const Shape& xs, Find find) {
    std::vector<Perf> results(std::max(count, 1));
    int returned = 0;
    {
      SearchWorkspace scratch(options.workspace_limit_bytes);
      find(count, &returned, results.data(), scratch.data, scratch.bytes);
    }
    const Perf& best = choose(results, returned, d, dtype, xs);
    settle(plan, int(best.algo), best.memory, best.mathType, d, dtype, xs);
  }

  void settle(ConvPlan& plan, int algorithm, size_t memory, cudnnMathType_t math, Direction d, DType dtype,
              const Shape& xs) {
    // fp32: keep FMA math. A result reported with CUDNN_DEFAULT_MATH would, set on the
    // descriptor, permit TF32 tensor cores on Ampere and newer.
    if (exact_fp32(dtype)) math = CUDNN_FMA_MATH;
    if (memory > workspace_size) {
      ++reallocations;  // counted before the free: a graph that used the old one is stale even if this throws
      if (workspace) {
        DASNET_CUDA_CHECK(cudaStreamSynchronize(stream));  // convolutions queued earlier use it
        DASNET_CUDA_CHECK(cudaFree(workspace));
      }
      workspace = nullptr;
      workspace_size = 0;
      workspace = device_allocate(memory, "the cuDNN workspace");
      workspace_size = memory;
    }
    DASNET_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, math));
    plan.algorithm = algorithm;
    plan.workspace = memory;
    plan.searched = true;
    if (options.verbose)
      std::fprintf(stderr, "cuDNN %s %s %s: algorithm %d, workspace %zu KiB, math %d\n", direction_name(d),
                   xs.str().c_str(), dtype_name(dtype), algorithm, memory >> 10, int(math));
  }
};

CudnnConvolutions::CudnnConvolutions(cudaStream_t stream, const ConvolutionOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->stream = stream;
  impl_->options = options;
  DASNET_CUDNN_CHECK(cudnnCreate(&impl_->handle));
  DASNET_CUDNN_CHECK(cudnnSetStream(impl_->handle, stream));
}

CudnnConvolutions::~CudnnConvolutions() = default;

size_t CudnnConvolutions::workspace_bytes() const { return impl_->workspace_size; }
size_t CudnnConvolutions::workspace_reallocations() const { return impl_->reallocations; }

std::string CudnnConvolutions::version_string() {
  auto format = [](size_t v) {
    // cuDNN 9 encodes major*10000 + minor*100 + patch; 8.x major*1000 + minor*100 + patch.
    size_t major = v >= 90000 ? v / 10000 : v / 1000, minor = (v / 100) % (v >= 90000 ? 100 : 10), patch = v % 100;
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  };
  return "cuDNN " + format(cudnnGetVersion()) + " (compiled with " + format(CUDNN_VERSION) + ")";
}

void CudnnConvolutions::forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y) {
  Impl& s = *impl_;
  bool fresh = false;
  ConvPlan& plan = s.plan_for(Direction::Forward, g, x.dtype, x.layout, x.shape, y.shape, &fresh);
  if (fresh) {
    int count = 0;
    DASNET_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(s.handle, &count));
    s.search<cudnnConvolutionFwdAlgoPerf_t>(
        plan, count, Direction::Forward, x.dtype, x.shape,
        [&](int n, int* returned, cudnnConvolutionFwdAlgoPerf_t* results, void* scratch, size_t bytes) {
          DASNET_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(s.handle, plan.x, x.data, plan.w, w, plan.conv,
                                                                    plan.y, y.data, n, returned, results, scratch,
                                                                    bytes));
        });
  }
  const float one = 1.0f, zero = 0.0f;
  DASNET_CUDNN_CHECK(cudnnConvolutionForward(s.handle, &one, plan.x, x.data, plan.w, w, plan.conv,
                                             cudnnConvolutionFwdAlgo_t(plan.algorithm), s.workspace, plan.workspace,
                                             &zero, plan.y, y.data));
}

void CudnnConvolutions::backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx,
                                      bool accumulate, float* scratch) {
  Impl& s = *impl_;
  bool fresh = false;
  ConvPlan& plan = s.plan_for(Direction::BackwardData, g, dx.dtype, dx.layout, dx.shape, dy.shape, &fresh);
  if (fresh) {
    int count = 0;
    DASNET_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(s.handle, &count));
    float* search_output = dx.data;
    void* temporary = nullptr;
    if (accumulate) {  // the search overwrites its output: keep dx intact
      search_output = scratch;
      if (!search_output) search_output = static_cast<float*>(temporary = device_allocate(dx.numel() * 4, "search"));
    }
    s.search<cudnnConvolutionBwdDataAlgoPerf_t>(
        plan, count, Direction::BackwardData, dx.dtype, dx.shape,
        [&](int n, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* results, void* search_scratch, size_t bytes) {
          const cudnnStatus_t status = cudnnFindConvolutionBackwardDataAlgorithmEx(
              s.handle, plan.w, w, plan.y, dy.data, plan.conv, plan.x, search_output, n, returned, results,
              search_scratch, bytes);
          if (temporary) cudaFree(temporary);
          DASNET_CUDNN_CHECK(status);
        });
  }
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  DASNET_CUDNN_CHECK(cudnnConvolutionBackwardData(s.handle, &one, plan.w, w, plan.y, dy.data, plan.conv,
                                                  cudnnConvolutionBwdDataAlgo_t(plan.algorithm), s.workspace,
                                                  plan.workspace, &beta, plan.x, dx.data));
}

void CudnnConvolutions::backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw) {
  Impl& s = *impl_;
  bool fresh = false;
  ConvPlan& plan = s.plan_for(Direction::BackwardWeights, g, x.dtype, x.layout, x.shape, dy.shape, &fresh);
  if (fresh) {
    int count = 0;
    DASNET_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(s.handle, &count));
    s.search<cudnnConvolutionBwdFilterAlgoPerf_t>(
        plan, count, Direction::BackwardWeights, x.dtype, x.shape,
        [&](int n, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* results, void* scratch, size_t bytes) {
          DASNET_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(s.handle, plan.x, x.data, plan.y,
                                                                           dy.data, plan.conv, plan.w, dw, n,
                                                                           returned, results, scratch, bytes));
        });
  }
  const float one = 1.0f, zero = 0.0f;
  DASNET_CUDNN_CHECK(cudnnConvolutionBackwardFilter(s.handle, &one, plan.x, x.data, plan.y, dy.data, plan.conv,
                                                    cudnnConvolutionBwdFilterAlgo_t(plan.algorithm), s.workspace,
                                                    plan.workspace, &zero, plan.w, dw));
}

}  // namespace dasnet::cuda
