// The CUDA backend's small owned resources: handles (stream, event, cuBLAS, graph) destroyed with
// their holder, and the grow-only pinned and device buffers that host inputs, labels, totals and
// scratch pass through. Internal to kernels/cuda (needs the CUDA headers).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace dasnet::cuda {

// A CUDA handle destroyed with its holder; errors while destroying are not reported
// (destructors do not throw).
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

// Growing a buffer inside a graph capture would leave the graph pointing at the old one.
inline void refuse_growth_in_capture(bool capturing, const char* what) {
  if (capturing)
    throw std::logic_error(std::string("CUDA graph capture: ") + what + " larger than in the plain step before");
}

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
    refuse_growth_in_capture(capturing, what);
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
    refuse_growth_in_capture(capturing, what);
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

// The pinned buffers every host input and every host-bound total passes through, shared by plain
// steps and graph replays (a captured graph copies from these addresses).
struct HostStaging {
  PinnedBuffer<float> images;
  PinnedBuffer<int> labels;
  PinnedBuffer<double> results;  // [0] loss sum, [1] correct count
  UniqueEvent images_consumed;   // the last plain copy out of `images` finished
  bool images_pending = false;
  // Before `images` is written again: waits for a plain copy that may still read it.
  void wait_for_images() {
    if (images_pending) DASNET_CUDA_CHECK(cudaEventSynchronize(images_consumed));
    images_pending = false;
  }
};

}  // namespace dasnet::cuda
