// Host emulation of the parts of the CUDA runtime that the hand-written kernels use, so that
// kernels/cuda/*.cu compile as plain C++ and run on the CPU (tests/cuda_emulation/, see the
// comment at the top of test_cuda_kernels_emulated.cpp). "Device memory" is host memory.
//
// This directory comes first on the emulation build's include path, so `#include
// <cuda_runtime.h>` in the kernel sources finds this file, never the toolkit's. Launches
// `kernel<<<grid, block, shared, stream>>>(args)` are rewritten by rewrite_launches.pl into
// `::emu::launcher(::emu::Config(grid, block, shared, stream), <lambda calling kernel>, "kernel")(args)`.
// Each block runs its threads as fibers on the launching thread (emu_runtime.cpp):
// __syncthreads and warp collectives are scheduling points, checked for divergence.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// --- Qualifiers -----------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Shared memory: one instance per kernel (blocks run one at a time). Dynamic shared memory
// (`extern __shared__`) is not emulated and fails to compile.
#define __shared__ static
#define __constant__

// --- Types ----------------------------------------------------------------------------------
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;

enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};
typedef enum cudaError cudaError_t;
typedef struct CUstream_st* cudaStream_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

constexpr int warpSize = 32;

// --- Runtime API (emu_runtime.cpp). Streams are ignored: everything runs in call order. -----
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaMalloc(void** pointer, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemset(void* pointer, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

namespace emu {

// --- Launches ---------------------------------------------------------------------------------
struct Config {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  Config(dim3 grid_, dim3 block_, size_t shared_bytes_ = 0, cudaStream_t stream_ = nullptr)
      : grid(grid_), block(block_), shared_bytes(shared_bytes_), stream(stream_) {}
};

using Invoke = void (*)(const void* bound);
// Checks the launch shape as the CUDA runtime would (an invalid one sets cudaGetLastError to
// cudaErrorInvalidConfiguration, runs nothing and is recorded as a violation), then runs every
// block, one after another, each thread of a block as a fiber.
void launch(const Config& config, Invoke invoke, const void* bound, const char* kernel_name);

// The arguments are copied at the launch, as CUDA copies kernel parameters; each emulated
// thread then gets its own copy of the parameters (kernels may modify them).
template <typename Kernel>
struct Launcher {
  Config config;
  Kernel kernel;
  const char* name;
  template <typename... Args>
  void operator()(Args&&... args) const {
    struct Bound {
      const Kernel* kernel;
      std::tuple<std::decay_t<Args>...> args;
    };
    const Bound bound{&kernel, std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
    launch(
        config,
        [](const void* p) {
          const Bound& b = *static_cast<const Bound*>(p);
          std::apply(*b.kernel, b.args);
        },
        &bound, name);
  }
};
template <typename Kernel>
Launcher<Kernel> launcher(const Config& config, Kernel kernel, const char* name) {
  return Launcher<Kernel>{config, kernel, name};
}

// --- Built-in variables, valid inside a kernel --------------------------------------------------
struct Indices {
  dim3 thread, block, block_dim, grid_dim;
};
extern Indices indices;

// --- Device intrinsics (emu_runtime.cpp) ---------------------------------------------------------
void syncthreads(const char* file, int line);
enum class WarpOp { Sync, Down, Up, Xor, Index };
// One warp-wide collective: every lane of the warp must reach the same call (same source line)
// with a full mask; returns the value of the lane that `op` and `operand` select.
uint64_t warp_exchange(unsigned mask, uint64_t bits, WarpOp op, int operand, int width, const char* file,
                       int line);

template <typename T>
T shuffle(unsigned mask, T value, WarpOp op, int operand, int width, const char* file, int line) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffle of an unsupported type");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_exchange(mask, bits, op, operand, width, file, line);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

// --- For the tests ------------------------------------------------------------------------------
// Everything the emulator found wrong since the last call (invalid launches, divergent or
// partial barriers and warp collectives, deadlocks), and clears the list.
std::vector<std::string> take_violations();
long launch_count();  // kernel launches run or refused so far

}  // namespace emu

#define threadIdx (static_cast<const dim3&>(::emu::indices.thread))
#define blockIdx (static_cast<const dim3&>(::emu::indices.block))
#define blockDim (static_cast<const dim3&>(::emu::indices.block_dim))
#define gridDim (static_cast<const dim3&>(::emu::indices.grid_dim))

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::emu::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::emu::warp_exchange(mask, 0, ::emu::WarpOp::Sync, 0, warpSize, file, line);
}
template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  return ::emu::shuffle(mask, var, ::emu::WarpOp::Index, src_lane, width, file, line);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  return ::emu::shuffle(mask, var, ::emu::WarpOp::Down, int(delta), width, file, line);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
  return ::emu::shuffle(mask, var, ::emu::WarpOp::Up, int(delta), width, file, line);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  return ::emu::shuffle(mask, var, ::emu::WarpOp::Xor, lane_mask, width, file, line);
}
// CUDA's min/max overloads for device (and host) code; non-templates, so that std::min and
// std::max, where also visible, lose nothing and cause no ambiguity.
#define EMU_MIN_MAX(R, A, B)                                                                      \
  inline R min(A a, B b) { return static_cast<R>(a) < static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); } \
  inline R max(A a, B b) { return static_cast<R>(a) > static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); }
EMU_MIN_MAX(int, int, int)
EMU_MIN_MAX(unsigned, unsigned, unsigned)
EMU_MIN_MAX(unsigned, int, unsigned)
EMU_MIN_MAX(unsigned, unsigned, int)
EMU_MIN_MAX(long, long, long)
EMU_MIN_MAX(unsigned long, unsigned long, unsigned long)
EMU_MIN_MAX(unsigned long, long, unsigned long)
EMU_MIN_MAX(unsigned long, unsigned long, long)
EMU_MIN_MAX(long long, long long, long long)
EMU_MIN_MAX(unsigned long long, unsigned long long, unsigned long long)
EMU_MIN_MAX(unsigned long long, long long, unsigned long long)
EMU_MIN_MAX(unsigned long long, unsigned long long, long long)
#undef EMU_MIN_MAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

template <typename T>
T __ldg(const T* pointer) {
  return *pointer;
}
