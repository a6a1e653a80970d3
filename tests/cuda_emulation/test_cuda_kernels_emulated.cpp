// The hand-written CUDA kernels (kernels/cuda/{elementwise,reductions,convert}.cu), run on the
// CPU by a host emulation of CUDA, and checked against plain loops written here. This runs on
// every CI machine (no GPU, no nvcc): ctest -L cuda_emulation.
//
// How: tests/cuda_emulation/rewrite_launches.pl rewrites each `kernel<<<grid, block, shared,
// stream>>>(args)` of the .cu files into a call of the emulator (CMake does this in the build
// tree), and the result is compiled as C++ against the headers in tests/cuda_emulation/shim/
// (cuda_runtime.h, cuda_bf16.h, cuda_fp16.h, cublas_v2.h), which come first on the include path.
// tests/cuda_emulation/emu_runtime.cpp runs a launch block after block on the calling thread;
// the threads of a block are fibers scheduled at __syncthreads and warp collectives. Device
// memory is host memory; the tests give every buffer guard zones around it.
//
// What the emulation checks:
//   - arithmetic and indexing of every launcher: grid-stride loops, plane/chunk grids (a plane
//     larger than a chunk, grid.y > 1), per-channel grids with more than one block of channels
//     (more than 256 channels), fp32/bf16/fp16 element types, empty batches;
//   - block reductions: the warp shuffles (__shfl_*_sync, full mask only) and the __syncthreads
//     around the shared per-warp results. Blocks alternate between running their threads
//     depth-first from the highest (a warp runs ahead, thread 0 last) and breadth-first from the
//     lowest (warp 0 first), so the usual missing barriers (thread 0 publishing to the block,
//     warps publishing partials to warp 0, shared memory reused by the next reduction) turn into
//     wrong results (CudaEmulator.MissingBarriersShowAsWrongResults);
//   - barrier discipline: every thread of a block must reach the same __syncthreads (none may have
//     exited), every lane of a warp the same shuffle with all 32 lanes present; a violation, or a
//     deadlock, fails the test that caused it;
//   - launch shapes: grid and block limits (grid.y/z <= 65535, <= 1024 threads per block) and
//     cudaGetLastError, so a launch CUDA would refuse fails here too;
//   - writes outside a buffer (guard zones) and outputs left unwritten (buffers start as NaN).
// What it does not check:
//   - timing, occupancy, coalescing, bank conflicts: nothing about performance;
//   - the memory model beyond barrier order: threads run one at a time between barriers, so data
//     races (two threads writing one address, reads not ordered by a barrier) go unnoticed unless
//     the descending order exposes them; shared memory keeps values between blocks instead of
//     starting undefined; no atomics, no memory fences;
//   - device floating point: here the host compiles without FMA contraction and with glibc's
//     exp/log, where nvcc contracts a*b+c into FMAs and uses the CUDA math library (results
//     differ in the last bits; the tolerances below allow for that, not for wrong math);
//   - cuDNN, cuBLAS (kernels/cuda/cudnn_ops.cpp, cuda_backend.cpp), streams (everything runs in
//     call order), CUDA graphs, dynamic shared memory, multiple devices: those need a real GPU
//     (tests/engine/test_cuda_backend.cpp, bench/gpu/check.sh).
#include <gtest/gtest.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_convert.h"
#include "kernels/cuda/kernels.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

// Launches from this file (the emulator's own tests), as rewrite_launches.pl writes them.
#define EMU_LAUNCH(kernel, ...) \
  ::emu::launcher(::emu::Config(__VA_ARGS__), [](auto... emu_args) { kernel(emu_args...); }, #kernel)

namespace dasnet::cuda {
namespace {

// --- Shapes and element types ------------------------------------------------------------------

struct Shape {
  int n, c, h, w;
  size_t plane() const { return size_t(h) * w; }
  size_t planes() const { return size_t(n) * c; }
  size_t total() const { return planes() * plane(); }
  std::string name() const {
    return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }
};

// Small enough to emulate quickly; between them: an odd plane smaller than a block, a plane
// larger than a chunk (1024 values: two chunks per plane), more channels than one block (256).
const Shape kShapes[] = {{3, 5, 7, 9}, {5, 3, 40, 40}, {2, 300, 2, 2}};

// Activations are NCHW or channels-last NHWC; the offset of value (n, c, p), p = h * W + w.
const bool kLayouts[] = {false, true};  // channels_last
std::string layout_name(bool channels_last) { return channels_last ? "NHWC" : "NCHW"; }
size_t at(const Shape& s, bool channels_last, int n, int c, size_t p) {
  return channels_last ? (size_t(n) * s.plane() + p) * s.c + c : (size_t(n) * s.c + c) * s.plane() + p;
}

float widen(float v) { return v; }
float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
float widen(__half v) { return __half2float(v); }

template <typename T>
T narrow(float v);
template <>
float narrow<float>(float v) {
  return v;
}
template <>
__nv_bfloat16 narrow<__nv_bfloat16>(float v) {
  return __float2bfloat16(v);
}
template <>
__half narrow<__half>(float v) {
  return __float2half(v);
}

template <typename T>
std::vector<float> widen(const std::vector<T>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = widen(v[i]);
  return out;
}

template <typename T>
std::string type_name() {
  if (std::is_same<T, float>::value) return "fp32";
  if (std::is_same<T, __nv_bfloat16>::value) return "bf16";
  return "fp16";
}

// Tolerance of outputs stored as T, relative to the largest expected magnitude: a rounding in
// the last place of T passes, an indexing error (an O(1) difference) does not.
template <typename T>
double tolerance() {
  if (std::is_same<T, float>::value) return 1e-6;
  if (std::is_same<T, __nv_bfloat16>::value) return 1e-2;
  return 2e-3;
}

// Runs f(T{}) for each activation type the kernels are instantiated for.
template <typename F>
void for_each_type(F f) {
  f(float{});
  f(__nv_bfloat16{});
  f(__half{});
}

// --- Device buffers with guard zones -------------------------------------------------------------

// Host memory standing in for device memory: `count` elements between two guard zones. Every
// byte starts as 0xff (NaN for floating point, -1 for integers), so an output the kernel never
// wrote and a read past the end both show up in the comparisons; the destructor checks that the
// guard zones were not written.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer(std::string name, size_t count)
      : name_(std::move(name)), count_(count), bytes_((count + 2 * kGuard) * sizeof(T), 0xff) {}
  DeviceBuffer(std::string name, const std::vector<T>& values) : DeviceBuffer(std::move(name), values.size()) {
    upload(values);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    for (size_t i = 0; i < kGuard * sizeof(T); ++i) {
      if (bytes_[i] != 0xff || bytes_[bytes_.size() - 1 - i] != 0xff) {
        ADD_FAILURE() << name_ << ": a kernel wrote outside its " << count_ << " elements";
        return;
      }
    }
  }

  T* get() { return reinterpret_cast<T*>(bytes_.data() + kGuard * sizeof(T)); }
  const T* get() const { return reinterpret_cast<const T*>(bytes_.data() + kGuard * sizeof(T)); }
  void upload(const std::vector<T>& values) {
    EXPECT_EQ(values.size(), count_) << name_;
    std::memcpy(get(), values.data(), std::min(values.size(), count_) * sizeof(T));
  }
  std::vector<T> host() const {
    std::vector<T> out(count_);
    std::memcpy(out.data(), get(), count_ * sizeof(T));
    return out;
  }
  std::vector<float> widened() const { return widen(host()); }

 private:
  static constexpr size_t kGuard = 64;
  std::string name_;
  size_t count_;
  std::vector<unsigned char> bytes_;
};

// --- Comparisons ---------------------------------------------------------------------------------

// max |actual - expected| / max(|expected|, 1e-6) <= tolerance, non-finite values equal only to
// themselves (a NaN where a number belongs fails).
template <typename V>
::testing::AssertionResult Close(const std::vector<V>& actual, const std::vector<V>& expected, double tolerance) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << actual.size() << " values, expected " << expected.size();
  double scale = 1e-6;
  for (V v : expected)
    if (std::isfinite(double(v))) scale = std::max(scale, std::fabs(double(v)));
  double worst = 0;
  size_t worst_index = 0, bad = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = double(actual[i]), e = double(expected[i]);
    double error;
    if (std::isfinite(a) && std::isfinite(e))
      error = std::fabs(a - e) / scale;
    else
      error = (std::isnan(a) && std::isnan(e)) || a == e ? 0.0 : INFINITY;
    if (error > tolerance) ++bad;
    if (error > worst || (i == 0 && error == worst)) {
      worst = error;
      worst_index = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << actual.size() << " values off; worst at [" << worst_index
                                       << "]: " << double(actual[worst_index]) << ", expected "
                                       << double(expected[worst_index]) << " (relative error " << worst
                                       << ", tolerance " << tolerance << ")";
}

template <typename T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// ReLU as the engine defines it: NaN stays NaN (as the CPU reference and PyTorch).
float relu(float v) { return std::isnan(v) ? v : std::max(v, 0.0f); }

// --- Random inputs ---------------------------------------------------------------------------------

std::vector<float> random_floats(std::mt19937& rng, size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> distribution(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = distribution(rng);
  return v;
}

template <typename T>
std::vector<T> random_values(std::mt19937& rng, size_t count, float lo, float hi) {
  std::vector<T> v(count);
  std::uniform_real_distribution<float> distribution(lo, hi);
  for (T& x : v) x = narrow<T>(distribution(rng));
  return v;
}

// Every test: no emulation violation, no unchecked launch error, and at least one launch.
class CudaKernelsEmulated : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::take_violations();
    (void)cudaGetLastError();
    launches_ = emu::launch_count();
  }
  void TearDown() override {
    const std::vector<std::string> violations = emu::take_violations();
    std::ostringstream all;
    for (const std::string& v : violations) all << "\n  " << v;
    EXPECT_TRUE(violations.empty()) << "CUDA emulation violations:" << all.str();
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    EXPECT_GT(emu::launch_count(), launches_) << "no kernel was launched";
  }
  std::mt19937 rng{20240611};

 private:
  long launches_ = 0;
};

// ====================================================================================================
// Channel statistics (batchnorm forward) and channel sums (synchronized batchnorm)
// ====================================================================================================

TEST_F(CudaKernelsEmulated, ChannelStatisticsAndSums) {
  for_each_type([&](auto tag) {
    using T = decltype(tag);
    for (const Shape& s : kShapes)
      for (bool nhwc : kLayouts) {
        SCOPED_TRACE(type_name<T>() + " " + s.name() + " " + layout_name(nhwc));
        const std::vector<T> x = random_values<T>(rng, s.total(), -2, 3);
        std::vector<float> mean_ref(s.c), var_ref(s.c);
        std::vector<double> sums_ref(2 * size_t(s.c));
        const double count = double(s.n) * double(s.plane());
        for (int c = 0; c < s.c; ++c) {
          double sum = 0, squares = 0;
          for (int n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.plane(); ++p) {
              const double v = widen(x[at(s, nhwc, n, c, p)]);
              sum += v;
              squares += v * v;
            }
          const double mean = sum / count;
          double deviations = 0;
          for (int n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.plane(); ++p) {
              const double d = widen(x[at(s, nhwc, n, c, p)]) - mean;
              deviations += d * d;
            }
          mean_ref[c] = float(mean);
          var_ref[c] = float(deviations / count);
          sums_ref[c] = sum;
          sums_ref[s.c + c] = squares;
        }

        DeviceBuffer<T> dx("x", x);
        DeviceBuffer<float> mean("mean", s.c), var("var", s.c);
        DeviceBuffer<double> scratch("scratch", channel_reduction_scratch(s.n, s.c, nhwc));
        launch_channel_statistics(dx.get(), mean.get(), var.get(), s.n, s.c, s.plane(), nhwc, scratch.get(), nullptr);
        EXPECT_TRUE(Close(mean.host(), mean_ref, 1e-6)) << "mean";
        EXPECT_TRUE(Close(var.host(), var_ref, 1e-6)) << "variance";

        launch_channel_sums(dx.get(), s.n, s.c, s.plane(), nhwc, scratch.get(), nullptr);
        const double* result = channel_reduction_result(scratch.get(), s.n, s.c, nhwc);
        EXPECT_TRUE(Close(std::vector<double>(result, result + 2 * s.c), sums_ref, 1e-12)) << "sums, squares";
      }
  });

  // An empty batch sums to zero: the result is written (not left stale), x is never read.
  for (bool nhwc : kLayouts) {
    const int channels = 4;
    DeviceBuffer<double> scratch("scratch", channel_reduction_scratch(0, channels, nhwc));
    DeviceBuffer<float> x("x (empty)", 0);
    launch_channel_sums(x.get(), 0, channels, 9, nhwc, scratch.get(), nullptr);
    const double* result = channel_reduction_result(scratch.get(), 0, channels, nhwc);
    EXPECT_EQ(std::vector<double>(result, result + 2 * channels), std::vector<double>(2 * channels, 0.0))
        << layout_name(nhwc);
  }
}

// ====================================================================================================
// Batchnorm coefficients (running statistics, scale and shift)
// ====================================================================================================

TEST_F(CudaKernelsEmulated, BatchnormCoefficients) {
  for (const Shape& s : kShapes) {
    for (bool training : {true, false}) {
      SCOPED_TRACE(s.name() + (training ? " training" : " inference"));
      const int C = s.c;
      const long count = long(s.n) * long(s.plane());
      const float momentum = 0.1f, eps = 1e-5f;
      const std::vector<float> batch_mean = random_floats(rng, C, -1, 1), batch_var = random_floats(rng, C, 0.01f, 3);
      const std::vector<float> gamma = random_floats(rng, C, 0.5f, 1.5f), beta = random_floats(rng, C, -1, 1);
      const std::vector<float> running_mean0 = random_floats(rng, C, -1, 1);
      const std::vector<float> running_var0 = random_floats(rng, C, 0.5f, 2);

      std::vector<float> rm_ref = running_mean0, rv_ref = running_var0, scale_ref(C), shift_ref(C), invstd_ref(C);
      for (int c = 0; c < C; ++c) {
        float m, v;
        if (training) {
          m = batch_mean[c];
          v = batch_var[c];
          const float unbiased = count > 1 ? v * float(count) / float(count - 1) : v;
          rm_ref[c] = (1 - momentum) * rm_ref[c] + momentum * m;
          rv_ref[c] = (1 - momentum) * rv_ref[c] + momentum * unbiased;
        } else {
          m = running_mean0[c];
          v = running_var0[c];
        }
        invstd_ref[c] = 1.0f / std::sqrt(v + eps);
        scale_ref[c] = gamma[c] * invstd_ref[c];
        shift_ref[c] = beta[c] - m * gamma[c] * invstd_ref[c];
      }

      DeviceBuffer<float> d_mean("batch mean", batch_mean), d_var("batch var", batch_var), d_gamma("gamma", gamma),
          d_beta("beta", beta), running_mean("running mean", running_mean0), running_var("running var", running_var0),
          scale("scale", C), shift("shift", C), invstd("invstd", C);
      launch_batchnorm_coefficients(C, d_mean.get(), d_var.get(), d_gamma.get(), d_beta.get(), running_mean.get(),
                                    running_var.get(), count, momentum, eps, training, scale.get(), shift.get(),
                                    invstd.get(), nullptr);
      EXPECT_TRUE(Close(running_mean.host(), rm_ref, 1e-6)) << "running mean";
      EXPECT_TRUE(Close(running_var.host(), rv_ref, 1e-6)) << "running var";
      EXPECT_TRUE(Close(scale.host(), scale_ref, 1e-6)) << "scale";
      EXPECT_TRUE(Close(shift.host(), shift_ref, 1e-6)) << "shift";
      EXPECT_TRUE(Close(invstd.host(), invstd_ref, 1e-6)) << "invstd";
    }
  }
}

// ====================================================================================================
// Scale, shift, residual, ReLU (batchnorm apply)
// ====================================================================================================

TEST_F(CudaKernelsEmulated, ScaleShiftActivate) {
  for_each_type([&](auto tag) {
    using T = decltype(tag);
    for (const Shape& s : kShapes)
      for (bool nhwc : kLayouts) {
        SCOPED_TRACE(type_name<T>() + " " + s.name() + " " + layout_name(nhwc));
        std::vector<T> x = random_values<T>(rng, s.total(), -2, 2);
        x[3] = narrow<T>(NAN);  // ReLU keeps NaN
        const std::vector<T> r = random_values<T>(rng, s.total(), -2, 2);
        const std::vector<float> scale = random_floats(rng, s.c, 0.5f, 2), shift = random_floats(rng, s.c, -1, 1);
        DeviceBuffer<float> d_scale("scale", scale), d_shift("shift", shift);

        for (bool residual_relu : {true, false}) {
          SCOPED_TRACE(residual_relu ? "in place, + residual, ReLU" : "plain");
          std::vector<float> expected(s.total());
          for (int n = 0; n < s.n; ++n)
            for (int c = 0; c < s.c; ++c)
              for (size_t p = 0; p < s.plane(); ++p) {
                const size_t i = at(s, nhwc, n, c, p);
                float v = widen(x[i]) * scale[c] + shift[c];
                if (residual_relu) v = relu(v + widen(r[i]));
                expected[i] = widen(narrow<T>(v));
              }
          DeviceBuffer<T> dx("x", x), residual("residual", r), y("y", s.total());
          T* out = residual_relu ? dx.get() : y.get();  // y may alias x
          launch_scale_shift_activate(dx.get(), d_scale.get(), d_shift.get(),
                                      residual_relu ? residual.get() : static_cast<const T*>(nullptr), residual_relu,
                                      out, s.n, s.c, s.plane(), nhwc, nullptr);
          EXPECT_TRUE(Close(residual_relu ? dx.widened() : y.widened(), expected, tolerance<T>()));
        }
      }
  });
}

// ====================================================================================================
// Batchnorm backward: per-channel sums, then dx and the residual gradient
// ====================================================================================================

TEST_F(CudaKernelsEmulated, BatchnormBackward) {
  for_each_type([&](auto tag) {
    using T = decltype(tag);
    for (const Shape& s : kShapes)
      for (bool nhwc : kLayouts) {
      SCOPED_TRACE(type_name<T>() + " " + s.name() + " " + layout_name(nhwc));
      const size_t total = s.total(), plane = s.plane();
      const std::vector<T> x = random_values<T>(rng, total, -2, 2), dy = random_values<T>(rng, total, -1, 1);
      const std::vector<T> relu_output = random_values<T>(rng, total, -1, 1);  // the mask: about half > 0
      const std::vector<float> mean = random_floats(rng, s.c, -0.5f, 0.5f), invstd = random_floats(rng, s.c, 0.5f, 2);
      const std::vector<float> gamma = random_floats(rng, s.c, 0.5f, 1.5f);
      const double count = double(s.n) * double(plane);

      // The first shape also runs without the ReLU mask and with raw sums (divisor 1).
      const bool variants = &s == &kShapes[0];
      for (bool masked : variants ? std::vector<bool>{true, false} : std::vector<bool>{true}) {
        SCOPED_TRACE(masked ? "through ReLU" : "no ReLU");
        const double divisor = masked ? count : 1.0;
        auto gradient = [&](size_t i) {
          return masked && widen(relu_output[i]) <= 0.0f ? 0.0f : widen(dy[i]);
        };
        std::vector<float> dgamma_ref(s.c), dbeta_ref(s.c);
        std::vector<double> means_ref(2 * size_t(s.c));
        for (int c = 0; c < s.c; ++c) {
          double sum_g = 0, sum_gx = 0;
          for (int n = 0; n < s.n; ++n)
            for (size_t p = 0; p < plane; ++p) {
              const size_t i = at(s, nhwc, n, c, p);
              const double g = gradient(i);
              sum_g += g;
              sum_gx += g * (double(widen(x[i])) - mean[c]) * double(invstd[c]);
            }
          dgamma_ref[c] = float(sum_gx);
          dbeta_ref[c] = float(sum_g);
          means_ref[2 * c] = sum_g / divisor;
          means_ref[2 * c + 1] = sum_gx / divisor;
        }

        DeviceBuffer<T> d_x("x", x), d_dy("dy", dy), d_relu("relu output", relu_output);
        DeviceBuffer<float> d_mean("mean", mean), d_invstd("invstd", invstd), d_gamma("gamma", gamma);
        DeviceBuffer<float> dgamma("dgamma", s.c), dbeta("dbeta", s.c);
        DeviceBuffer<double> scratch("scratch", channel_reduction_scratch(s.n, s.c, nhwc));
        const T* mask = masked ? d_relu.get() : nullptr;
        launch_batchnorm_backward_sums(d_dy.get(), mask, d_x.get(), d_mean.get(), d_invstd.get(), dgamma.get(),
                                       dbeta.get(), divisor, s.n, s.c, plane, nhwc, scratch.get(), nullptr);
        EXPECT_TRUE(Close(dgamma.host(), dgamma_ref, 1e-6)) << "dgamma";
        EXPECT_TRUE(Close(dbeta.host(), dbeta_ref, 1e-6)) << "dbeta";
        const double* means = channel_reduction_result(scratch.get(), s.n, s.c, nhwc);
        EXPECT_TRUE(Close(std::vector<double>(means, means + 2 * s.c), means_ref, 1e-12)) << "per-channel means";
        if (!masked) continue;  // apply is checked with the value-count divisor only

        std::vector<float> dx_ref(total);
        for (int n = 0; n < s.n; ++n)
          for (int c = 0; c < s.c; ++c) {
            const double gamma_is = double(gamma[c]) * double(invstd[c]);
            for (size_t p = 0; p < plane; ++p) {
              const size_t i = at(s, nhwc, n, c, p);
              const double xhat = (double(widen(x[i])) - mean[c]) * double(invstd[c]);
              const double g = gradient(i);
              dx_ref[i] = widen(narrow<T>(float(gamma_is * (g - means_ref[2 * c] - xhat * means_ref[2 * c + 1]))));
            }
          }
        for (bool accumulate : {false, true}) {
          SCOPED_TRACE(accumulate ? "residual gradient accumulated" : "residual gradient set");
          const std::vector<T> dresidual0 = random_values<T>(rng, total, -1, 1);
          std::vector<float> dres_ref(total);
          for (size_t i = 0; i < total; ++i) dres_ref[i] = widen(narrow<T>(accumulate ? widen(dresidual0[i]) + gradient(i) : gradient(i)));
          DeviceBuffer<T> dx("dx", total), dresidual("dresidual", dresidual0);
          launch_batchnorm_backward_apply(d_dy.get(), mask, d_x.get(), d_mean.get(), d_invstd.get(), d_gamma.get(),
                                          dx.get(), dresidual.get(), accumulate, s.n, s.c, plane, nhwc,
                                          scratch.get(), nullptr);
          EXPECT_TRUE(Close(dx.widened(), dx_ref, tolerance<T>())) << "dx";
          EXPECT_TRUE(Close(dresidual.widened(), dres_ref, tolerance<T>())) << "dresidual";
        }
        // Without a residual gradient: dx only.
        DeviceBuffer<T> dx("dx (no residual)", total);
        launch_batchnorm_backward_apply(d_dy.get(), mask, d_x.get(), d_mean.get(), d_invstd.get(), d_gamma.get(),
                                        dx.get(), static_cast<T*>(nullptr), false, s.n, s.c, plane, nhwc,
                                        scratch.get(), nullptr);
        EXPECT_TRUE(Close(dx.widened(), dx_ref, tolerance<T>())) << "dx without a residual gradient";
      }
    }
  });

  // An empty batch: dgamma, dbeta and the per-channel means are zero, not stale.
  for (bool nhwc : kLayouts) {
    SCOPED_TRACE("empty batch, " + layout_name(nhwc));
    const int channels = 4;
    DeviceBuffer<float> none("x (empty)", 0), mean("mean", std::vector<float>(channels, 0.0f)),
        invstd("invstd", std::vector<float>(channels, 1.0f)), dgamma("dgamma", channels), dbeta("dbeta", channels);
    DeviceBuffer<double> scratch("scratch", channel_reduction_scratch(0, channels, nhwc));
    launch_batchnorm_backward_sums(none.get(), static_cast<const float*>(nullptr), none.get(), mean.get(),
                                   invstd.get(), dgamma.get(), dbeta.get(), 1.0, 0, channels, 9, nhwc, scratch.get(),
                                   nullptr);
    EXPECT_EQ(dgamma.host(), std::vector<float>(channels, 0.0f));
    EXPECT_EQ(dbeta.host(), std::vector<float>(channels, 0.0f));
    const double* means = channel_reduction_result(scratch.get(), 0, channels, nhwc);
    EXPECT_EQ(std::vector<double>(means, means + 2 * channels), std::vector<double>(2 * channels, 0.0));
  }
}

// ====================================================================================================
// ReLU forward/backward, add, accumulate, fill
// ====================================================================================================

TEST_F(CudaKernelsEmulated, ReluAddAccumulate) {
  for_each_type([&](auto tag) {
    using T = decltype(tag);
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(type_name<T>() + " " + s.name());
      const size_t total = s.total();
      std::vector<T> x = random_values<T>(rng, total, -2, 2);
      x[total / 2] = narrow<T>(NAN);  // ReLU keeps NaN; its gradient there is 0
      const std::vector<T> b = random_values<T>(rng, total, -2, 2), dy = random_values<T>(rng, total, -1, 1);
      DeviceBuffer<T> d_x("x", x), d_b("b", b), d_dy("dy", dy);

      std::vector<float> expected(total);
      for (size_t i = 0; i < total; ++i) expected[i] = relu(widen(x[i]));
      DeviceBuffer<T> y("relu y", total);
      launch_relu_forward(d_x.get(), y.get(), total, nullptr);
      EXPECT_TRUE(Close(y.widened(), expected, tolerance<T>())) << "relu forward";

      for (bool accumulate : {false, true}) {
        const std::vector<T> dx0 = random_values<T>(rng, total, -1, 1);
        for (size_t i = 0; i < total; ++i) {
          const float g = widen(x[i]) > 0.0f ? widen(dy[i]) : 0.0f;  // the mask: the ReLU output > 0
          expected[i] = widen(narrow<T>(accumulate ? widen(dx0[i]) + g : g));
        }
        DeviceBuffer<T> dx("relu dx", dx0);
        launch_relu_backward(d_dy.get(), static_cast<const T*>(y.get()), dx.get(), total, accumulate, nullptr);
        EXPECT_TRUE(Close(dx.widened(), expected, tolerance<T>())) << "relu backward, accumulate " << accumulate;
      }

      for (size_t i = 0; i < total; ++i) expected[i] = widen(narrow<T>(widen(x[i]) + widen(b[i])));
      DeviceBuffer<T> sum("a + b", total);
      launch_add(d_x.get(), d_b.get(), sum.get(), total, nullptr);
      EXPECT_TRUE(Close(sum.widened(), expected, tolerance<T>())) << "add";

      for (size_t i = 0; i < total; ++i) expected[i] = widen(narrow<T>(widen(b[i]) + widen(dy[i])));
      DeviceBuffer<T> dst("accumulated", b);
      launch_accumulate(d_dy.get(), dst.get(), total, nullptr);
      EXPECT_TRUE(Close(dst.widened(), expected, tolerance<T>())) << "accumulate";
    }
  });

  for (size_t count : {size_t(1), size_t(1000), kShapes[1].total()}) {
    DeviceBuffer<float> filled("filled", count);
    launch_fill(filled.get(), count, 3.5f, nullptr);
    EXPECT_EQ(filled.host(), std::vector<float>(count, 3.5f)) << "fill " << count;
  }
}

// ====================================================================================================
// Global average pooling
// ====================================================================================================

TEST_F(CudaKernelsEmulated, GlobalAvgPool) {
  for_each_type([&](auto tag) {
    using T = decltype(tag);
    for (const Shape& s : kShapes)
      for (bool nhwc : kLayouts) {
        SCOPED_TRACE(type_name<T>() + " " + s.name() + " " + layout_name(nhwc));
        const size_t planes = s.planes(), plane = s.plane();
        const std::vector<T> x = random_values<T>(rng, s.total(), -2, 2);
        std::vector<float> pooled_ref(planes);  // n x c in both layouts
        for (int n = 0; n < s.n; ++n)
          for (int c = 0; c < s.c; ++c) {
            double sum = 0;
            for (size_t p = 0; p < plane; ++p) sum += widen(x[at(s, nhwc, n, c, p)]);
            pooled_ref[size_t(n) * s.c + c] = float(sum / double(plane));
          }
        DeviceBuffer<T> d_x("x", x);
        DeviceBuffer<float> pooled("pooled", planes);
        launch_global_avg_pool_forward(d_x.get(), pooled.get(), s.n, s.c, plane, nhwc, nullptr);
        EXPECT_TRUE(Close(pooled.host(), pooled_ref, 1e-6)) << "forward";

        const std::vector<float> dy = random_floats(rng, planes, -1, 1);
        DeviceBuffer<float> d_dy("dy", dy);
        for (bool accumulate : {false, true}) {
          const std::vector<T> dx0 = random_values<T>(rng, s.total(), -1, 1);
          std::vector<float> expected(s.total());
          for (int n = 0; n < s.n; ++n)
            for (int c = 0; c < s.c; ++c) {
              const float g = dy[size_t(n) * s.c + c] * (1.0f / float(plane));
              for (size_t p = 0; p < plane; ++p) {
                const size_t i = at(s, nhwc, n, c, p);
                expected[i] = widen(narrow<T>(accumulate ? widen(dx0[i]) + g : g));
              }
            }
          DeviceBuffer<T> dx("dx", dx0);
          launch_global_avg_pool_backward(d_dy.get(), dx.get(), s.n, s.c, plane, nhwc, accumulate, nullptr);
          EXPECT_TRUE(Close(dx.widened(), expected, tolerance<T>())) << "backward, accumulate " << accumulate;
        }
      }
  });
}

// ====================================================================================================
// Linear layer helpers: bias broadcast, column sums
// ====================================================================================================

TEST_F(CudaKernelsEmulated, LinearHelpers) {
  struct Matrix {
    int rows, columns;
  };
  for (Matrix m : {Matrix{7, 300}, Matrix{3, 5}, Matrix{1, 257}}) {
    SCOPED_TRACE(std::to_string(m.rows) + " x " + std::to_string(m.columns));
    const size_t count = size_t(m.rows) * m.columns;
    const std::vector<float> row = random_floats(rng, m.columns, -2, 2), x = random_floats(rng, count, -2, 2);
    std::vector<float> broadcast_ref(count), sums_ref(m.columns);
    for (int r = 0; r < m.rows; ++r)
      for (int c = 0; c < m.columns; ++c) broadcast_ref[size_t(r) * m.columns + c] = row[c];
    for (int c = 0; c < m.columns; ++c) {
      double sum = 0;
      for (int r = 0; r < m.rows; ++r) sum += x[size_t(r) * m.columns + c];
      sums_ref[c] = float(sum);
    }
    DeviceBuffer<float> d_row("row", row), d_x("x", x), y("broadcast", count), sums("column sums", m.columns);
    launch_broadcast_rows(d_row.get(), y.get(), m.rows, m.columns, nullptr);
    EXPECT_EQ(y.host(), broadcast_ref) << "broadcast rows";
    launch_column_sums(d_x.get(), sums.get(), m.rows, m.columns, nullptr);
    EXPECT_TRUE(Close(sums.host(), sums_ref, 1e-6)) << "column sums";
  }
}

// ====================================================================================================
// SGD update (momentum, Nesterov, weight decay, learning rate on the device, skipped steps)
// ====================================================================================================

TEST_F(CudaKernelsEmulated, SgdUpdate) {
  const size_t count = 3000;
  const float weight_decay = 1e-4f;
  for (bool nesterov : {false, true})
    for (float momentum : {0.0f, 0.9f})
      for (bool lr_on_device : {false, true})
        for (float skip : {-1.0f, 0.0f, 1.0f}) {  // -1: no skip flag
          SCOPED_TRACE(std::string(nesterov ? "nesterov" : "plain") + " momentum " + std::to_string(momentum) +
                       (lr_on_device ? " lr on device" : " lr on host") + " skip " + std::to_string(skip));
          const std::vector<float> p0 = random_floats(rng, count, -1, 1), g = random_floats(rng, count, -1, 1),
                                   v0 = random_floats(rng, count, -1, 1);
          const float lr = 0.05f;
          std::vector<float> p_ref = p0, v_ref = v0;
          if (skip <= 0.0f) {
            for (size_t i = 0; i < count; ++i) {
              float grad = g[i] + weight_decay * p_ref[i];
              if (momentum != 0.0f) {
                v_ref[i] = momentum * v_ref[i] + grad;
                grad = nesterov ? grad + momentum * v_ref[i] : v_ref[i];
              }
              p_ref[i] -= lr * grad;
            }
          }
          DeviceBuffer<float> params("params", p0), grads("grads", g), velocity("velocity", v0);
          DeviceBuffer<float> device_lr("lr", std::vector<float>{lr}), skip_flag("skip", std::vector<float>{skip});
          launch_sgd_update(params.get(), grads.get(), velocity.get(), count, lr_on_device ? 99.0f : lr,
                            lr_on_device ? device_lr.get() : nullptr, skip < 0.0f ? nullptr : skip_flag.get(),
                            momentum, weight_decay, nesterov, nullptr);
          EXPECT_TRUE(Close(params.host(), p_ref, 1e-6)) << "params";
          EXPECT_TRUE(Close(velocity.host(), v_ref, 1e-6)) << "velocity";
        }
}

// ====================================================================================================
// Dynamic loss scaling: unscale (with the overflow flag) and the scale update
// ====================================================================================================

TEST_F(CudaKernelsEmulated, LossScaling) {
  const size_t count = 5000;
  for (int poisoned : {-1, 17, 4999}) {  // -1: all finite; else that gradient overflows
    SCOPED_TRACE("non-finite gradient at " + std::to_string(poisoned));
    std::vector<float> g = random_floats(rng, count, -1000, 1000);
    if (poisoned >= 0) g[size_t(poisoned)] = poisoned == 17 ? INFINITY : NAN;
    std::vector<float> expected(count);
    for (size_t i = 0; i < count; ++i) expected[i] = g[i] * (1.0f / 1024.0f);
    DeviceBuffer<float> grads("grads", g);
    DeviceBuffer<LossScaleState> state("state", std::vector<LossScaleState>{{1024.0f, 7.0f, 3, 0}});
    launch_unscale_gradients(grads.get(), count, state.get(), nullptr);
    EXPECT_TRUE(Close(grads.host(), expected, 0.0));
    EXPECT_EQ(state.host()[0].found_inf, poisoned >= 0 ? 1.0f : 0.0f);
  }
  {  // no gradients: found_inf is still reset
    DeviceBuffer<float> grads("grads (none)", 0);
    DeviceBuffer<LossScaleState> state("state", std::vector<LossScaleState>{{8.0f, 1.0f, 0, 0}});
    launch_unscale_gradients(grads.get(), 0, state.get(), nullptr);
    EXPECT_EQ(state.host()[0].found_inf, 0.0f);
  }

  struct Step {
    LossScaleState before;
    int growth_interval;
    LossScaleState after;
  };
  const Step steps[] = {
      {{1024.0f, 1.0f, 5, 2}, 2000, {512.0f, 1.0f, 0, 3}},           // overflow: halve, restart the count
      {{1.0f, 1.0f, 0, 0}, 2000, {1.0f, 1.0f, 0, 1}},                 // never below 1
      {{1024.0f, 0.0f, 5, 2}, 2000, {1024.0f, 0.0f, 6, 2}},           // clean step: count it
      {{1024.0f, 0.0f, 1999, 2}, 2000, {2048.0f, 0.0f, 0, 2}},        // growth interval reached: double
      {{16777216.0f, 0.0f, 1, 0}, 2, {16777216.0f, 0.0f, 0, 0}},      // never above 2^24
  };
  for (const Step& step : steps) {
    DeviceBuffer<LossScaleState> state("state", std::vector<LossScaleState>{step.before});
    launch_update_loss_scale(state.get(), step.growth_interval, nullptr);
    const LossScaleState after = state.host()[0];
    EXPECT_EQ(after.scale, step.after.scale) << "from scale " << step.before.scale;
    EXPECT_EQ(after.found_inf, step.after.found_inf);
    EXPECT_EQ(after.clean_steps, step.after.clean_steps) << "from scale " << step.before.scale;
    EXPECT_EQ(after.skipped_steps, step.after.skipped_steps) << "from scale " << step.before.scale;
  }
}

// ====================================================================================================
// Sum of squares (gradient norm)
// ====================================================================================================

TEST_F(CudaKernelsEmulated, SumSquares) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(s.name());
    const std::vector<float> x = random_floats(rng, s.total(), -2, 2);
    double expected = 0;
    for (float v : x) expected += double(v) * v;
    DeviceBuffer<float> d_x("x", x);
    DeviceBuffer<double> scratch("scratch", sum_squares_scratch()), result("result", 1);
    launch_sum_squares(d_x.get(), x.size(), scratch.get(), result.get(), nullptr);
    EXPECT_TRUE(Close(result.host(), std::vector<double>{expected}, 1e-12));
  }
}

// ====================================================================================================
// Losses: sigmoid, softmax, multilabel
// ====================================================================================================

TEST_F(CudaKernelsEmulated, Losses) {
  const struct {
    LossKind kind;
    const char* name;
    int k;
  } modes[] = {{LossKind::Sigmoid, "sigmoid", 1}, {LossKind::Softmax, "softmax", 5}, {LossKind::Multilabel, "multilabel", 5}};
  for (const auto& mode : modes) {
    for (int n : {300, 7}) {  // more samples than threads in the block, and fewer than a warp
      SCOPED_TRACE(std::string(mode.name) + ", n = " + std::to_string(n));
      const int k = mode.k;
      const std::vector<float> z = random_floats(rng, size_t(n) * k, -4, 4);
      std::vector<int> labels(n);
      for (int& label : labels)
        label = mode.kind == LossKind::Softmax ? int(rng() % unsigned(k)) : int(rng() % (1u << k));

      std::vector<float> dlogits_ref(size_t(n) * k), probabilities_ref(size_t(n) * k);
      double loss = 0, correct = 0;
      for (int i = 0; i < n; ++i) {
        const float* zi = z.data() + size_t(i) * k;
        const int label = labels[i];
        std::vector<double> p(k);
        double sample_loss = 0;
        bool ok = true;
        if (mode.kind == LossKind::Softmax) {
          const double zmax = *std::max_element(zi, zi + k);
          double sum = 0;
          for (int j = 0; j < k; ++j) sum += (p[j] = std::exp(double(zi[j]) - zmax));
          for (int j = 0; j < k; ++j) p[j] /= sum;
          sample_loss = (std::log(sum) + zmax) - zi[label];
          ok = int(std::max_element(zi, zi + k) - zi) == label;
          for (int j = 0; j < k; ++j) dlogits_ref[size_t(i) * k + j] = float((p[j] - (j == label)) / n);
        } else {
          for (int j = 0; j < k; ++j) {
            const double y = (label >> j) & 1, zz = zi[j];
            p[j] = zz >= 0 ? 1.0 / (1.0 + std::exp(-zz)) : std::exp(zz) / (1.0 + std::exp(zz));
            sample_loss += (std::max(zz, 0.0) - zz * y + std::log1p(std::exp(-std::fabs(zz)))) / k;
            ok = ok && ((p[j] > 0.5) == (y > 0.5));
            dlogits_ref[size_t(i) * k + j] = float((p[j] - y) / (double(n) * k));
          }
        }
        for (int j = 0; j < k; ++j) probabilities_ref[size_t(i) * k + j] = float(p[j]);
        loss += sample_loss;
        correct += ok ? 1 : 0;
      }

      DeviceBuffer<float> logits("logits", z), dlogits("dlogits", z.size()), probabilities("probabilities", z.size());
      DeviceBuffer<int> d_labels("labels", labels);
      DeviceBuffer<double> totals("totals", 2);
      launch_loss(mode.kind, logits.get(), d_labels.get(), n, k, dlogits.get(), probabilities.get(), nullptr,
                  totals.get(), nullptr);
      EXPECT_TRUE(Close(dlogits.host(), dlogits_ref, 1e-6)) << "dlogits";
      EXPECT_TRUE(Close(probabilities.host(), probabilities_ref, 1e-6)) << "probabilities";
      EXPECT_TRUE(Close(std::vector<double>{totals.host()[0]}, std::vector<double>{loss}, 1e-12)) << "loss sum";
      EXPECT_EQ(totals.host()[1], correct) << "correct count";

      // Loss scaling: dlogits times the scale on the device; probabilities not asked for.
      for (float& d : dlogits_ref) d = float(double(d) * 1024.0);
      DeviceBuffer<float> scale("gradient scale", std::vector<float>{1024.0f}), scaled("scaled dlogits", z.size());
      launch_loss(mode.kind, logits.get(), d_labels.get(), n, k, scaled.get(), nullptr, scale.get(), totals.get(),
                  nullptr);
      EXPECT_TRUE(Close(scaled.host(), dlogits_ref, 1e-6)) << "scaled dlogits";
      EXPECT_EQ(totals.host()[1], correct) << "correct count";
    }
  }
}

// ====================================================================================================
// Patch conversion: raw int16 / uint8 samples to [0, 1] floats, per-patch min-max
// ====================================================================================================

template <typename Raw>
void check_patch_conversion(std::mt19937& rng, int patches, size_t elements, int lo, int hi, int constant_patch) {
  SCOPED_TRACE(std::string(sizeof(Raw) == 2 ? "int16" : "uint8") + ", " + std::to_string(patches) + " patches of " +
               std::to_string(elements));
  std::vector<Raw> raw(size_t(patches) * elements);
  std::uniform_int_distribution<int> distribution(lo, hi);
  for (Raw& v : raw) v = Raw(distribution(rng));
  for (size_t i = 0; i < elements; ++i) raw[size_t(constant_patch) * elements + i] = Raw(lo + 3);

  DeviceBuffer<Raw> src("raw", raw);
  DeviceBuffer<float> dst("unit floats", raw.size());
  DeviceBuffer<uint8_t> status("status", size_t(patches));
  convert_patches_to_unit_floats(src.get(), dst.get(), status.get(), patches, elements, nullptr);
  const std::vector<float> out = dst.host();
  const std::vector<uint8_t> st = status.host();
  for (int p = 0; p < patches; ++p) {
    const auto first = raw.begin() + std::ptrdiff_t(size_t(p) * elements), last = first + std::ptrdiff_t(elements);
    const int min = *std::min_element(first, last), max = *std::max_element(first, last);
    if (min == max) {
      EXPECT_EQ(st[p], kPatchConstant) << "patch " << p;
      for (size_t i = 0; i < elements; ++i)
        ASSERT_TRUE(std::isnan(out[size_t(p) * elements + i])) << "constant patch " << p << " was written at " << i;
      continue;
    }
    EXPECT_EQ(st[p], kPatchConverted) << "patch " << p;
    const double scale = 1.0 / (double(max) - double(min));
    for (size_t i = 0; i < elements; ++i) {
      const size_t at = size_t(p) * elements + i;
      ASSERT_EQ(out[at], float((double(raw[at]) - min) * scale)) << "patch " << p << " value " << i;
    }
  }
}

TEST_F(CudaKernelsEmulated, PatchConversion) {
  check_patch_conversion<int16_t>(rng, 4, 1000, -10000, 10000, 2);
  check_patch_conversion<int16_t>(rng, 3, 37, -32768, 32767, 0);  // fewer values than threads
  check_patch_conversion<uint8_t>(rng, 3, 777, 0, 255, 1);
}

// ====================================================================================================
// Activation type conversion (fp32 <-> bf16, fp32 <-> fp16)
// ====================================================================================================

template <typename T>
void check_conversion(std::mt19937& rng) {
  SCOPED_TRACE(type_name<T>());
  std::vector<float> values = random_floats(rng, 3000, -70000, 70000);
  const float specials[] = {0.0f, -0.0f, 1.0f, INFINITY, -INFINITY, NAN, 1e-30f, 65504.0f, 65520.0f, 3.0e38f,
                            1.00390625f /* a bf16 tie */, 1.00048828125f /* an fp16 tie */, 5.96e-8f, 1e-5f};
  for (size_t i = 0; i < sizeof specials / sizeof *specials; ++i) values[i * 7] = specials[i];

  DeviceBuffer<float> src("fp32", values), back("fp32 again", values.size());
  DeviceBuffer<T> narrowed("narrowed", values.size());
  launch_convert(src.get(), narrowed.get(), values.size(), nullptr);
  const std::vector<T> n = narrowed.host();
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_TRUE(same_bits(n[i], narrow<T>(values[i]))) << "value " << values[i] << " at " << i;
  launch_convert(static_cast<const T*>(narrowed.get()), back.get(), values.size(), nullptr);
  const std::vector<float> b = back.host();
  for (size_t i = 0; i < values.size(); ++i) {
    const float expected = widen(n[i]);
    ASSERT_TRUE(same_bits(b[i], expected) || (std::isnan(b[i]) && std::isnan(expected))) << "at " << i;
  }
}

TEST_F(CudaKernelsEmulated, ActivationConversion) {
  check_conversion<__nv_bfloat16>(rng);
  check_conversion<__half>(rng);
}

// ====================================================================================================
// Layout permutation (NCHW <-> NHWC, with the type conversion on the way)
// ====================================================================================================

template <typename T>
void check_permute(std::mt19937& rng) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(type_name<T>() + " " + s.name());
    const std::vector<float> nchw = random_floats(rng, s.total(), -3, 3);
    std::vector<T> nhwc_ref(s.total());
    for (int n = 0; n < s.n; ++n)
      for (int c = 0; c < s.c; ++c)
        for (size_t p = 0; p < s.plane(); ++p) nhwc_ref[at(s, true, n, c, p)] = narrow<T>(nchw[at(s, false, n, c, p)]);
    DeviceBuffer<float> src("NCHW fp32", nchw), back("NCHW fp32 again", s.total());
    DeviceBuffer<T> nhwc("NHWC", s.total());
    launch_permute(src.get(), nhwc.get(), s.n, s.c, s.plane(), true, nullptr);
    const std::vector<T> out = nhwc.host();
    for (size_t i = 0; i < out.size(); ++i) ASSERT_TRUE(same_bits(out[i], nhwc_ref[i])) << "to NHWC, at " << i;
    launch_permute(static_cast<const T*>(nhwc.get()), back.get(), s.n, s.c, s.plane(), false, nullptr);
    std::vector<float> back_ref(s.total());
    for (size_t i = 0; i < back_ref.size(); ++i) back_ref[i] = widen(narrow<T>(nchw[i]));
    EXPECT_EQ(back.host(), back_ref) << "back to NCHW";
  }
}

TEST_F(CudaKernelsEmulated, LayoutPermute) {
  check_permute<float>(rng);
  check_permute<__nv_bfloat16>(rng);
  check_permute<__half>(rng);
}

// ====================================================================================================
// The emulator itself: the shims' rounding, block reductions, and that it catches what it claims
// ====================================================================================================

class CudaEmulator : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::take_violations();
    (void)cudaGetLastError();
  }
  // The violations since SetUp, joined; the test expects them.
  static std::string violations() {
    std::string all;
    for (const std::string& v : emu::take_violations()) all += v + "\n";
    return all;
  }
};

float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

TEST_F(CudaEmulator, Bf16AndFp16Rounding) {
  auto bf16 = [](float v) { return __float2bfloat16(v).x; };
  EXPECT_EQ(bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16(1.00390625f), 0x3f80);  // 1 + 2^-8: a tie, to even
  EXPECT_EQ(bf16(1.01171875f), 0x3f82);  // 1 + 3 * 2^-8: a tie, to even (up)
  EXPECT_EQ(bf16(float_from_bits(0x3f808001u)), 0x3f81);  // just above that tie
  EXPECT_EQ(bf16(-2.0f), 0xc000);
  EXPECT_EQ(bf16(-0.0f), 0x8000);
  EXPECT_EQ(bf16(INFINITY), 0x7f80);
  EXPECT_EQ(bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to infinity
  EXPECT_TRUE(std::isnan(__bfloat162float(__float2bfloat16(NAN))));
  EXPECT_TRUE(std::isnan(__bfloat162float(__float2bfloat16(-NAN))));
  // A NaN whose payload is only in the low bits must not round to infinity.
  EXPECT_TRUE(std::isnan(__bfloat162float(__float2bfloat16(float_from_bits(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(__half2float(__float2half(float_from_bits(0x7f800001u)))));
  EXPECT_EQ(__bfloat162float(__nv_bfloat16{0x3fc0}), 1.5f);

  auto fp16 = [](float v) { return __float2half(v).x; };
  EXPECT_EQ(fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp16(1.00048828125f), 0x3c00);  // 1 + 2^-11: a tie, to even
  EXPECT_EQ(fp16(1.00146484375f), 0x3c02);  // 1 + 3 * 2^-11: a tie, to even (up)
  EXPECT_EQ(fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp16(65520.0f), 0x7c00);  // the halfway point rounds to infinity
  EXPECT_EQ(fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(fp16(5.9604644775390625e-8f), 0x0001);   // the smallest subnormal
  EXPECT_EQ(fp16(2.98023223876953125e-8f), 0x0000);  // half of it: a tie, to even (zero)
  EXPECT_EQ(fp16(8.940696716308594e-8f), 0x0002);    // 1.5 times it: a tie, to even (2)
  EXPECT_EQ(fp16(6.103515625e-5f), 0x0400);          // the smallest normal
  EXPECT_EQ(fp16(-0.0f), 0x8000);
  EXPECT_TRUE(std::isnan(__half2float(__float2half(NAN))));
  EXPECT_EQ(__half2float(__half{0x0001}), 5.9604644775390625e-8f);
  EXPECT_EQ(__half2float(__half{0x7bff}), 65504.0f);
  EXPECT_EQ(__half2float(__half{0xfc00}), -INFINITY);
  // Every finite half survives the round trip.
  for (unsigned h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(__float2half(__half2float(__half{uint16_t(h)})).x, h);
  }
}

__global__ void block_sums_kernel(const double* x, int per_block, double* sums, int* maxima) {
  double sum = 0;
  int max = INT_MIN;
  for (int i = threadIdx.x; i < per_block; i += blockDim.x) {
    sum += x[size_t(blockIdx.x) * per_block + i];
    max = std::max(max, int(x[size_t(blockIdx.x) * per_block + i]));
  }
  sum = block_sum(sum);
  struct Max {
    int operator()(int a, int b) const { return a > b ? a : b; }
  };
  max = block_reduce(max, Max{}, INT_MIN);
  if (threadIdx.x == 0) {
    sums[blockIdx.x] = sum;
    maxima[blockIdx.x] = max;
  }
}

TEST_F(CudaEmulator, BlockReductions) {
  std::mt19937 rng(5);
  for (unsigned threads : {32u, 96u, 256u, 1024u}) {
    const int blocks = 3, per_block = 2500;
    std::vector<double> x(size_t(blocks) * per_block);
    for (double& v : x) v = double(int(rng() % 2001) - 1000);  // integers: every summation order is exact
    DeviceBuffer<double> d_x("x", x), sums("sums", blocks);
    DeviceBuffer<int> maxima("maxima", blocks);
    EMU_LAUNCH(block_sums_kernel, blocks, threads)(d_x.get(), per_block, sums.get(), maxima.get());
    for (int b = 0; b < blocks; ++b) {
      double sum = 0;
      int max = INT_MIN;
      for (int i = 0; i < per_block; ++i) {
        sum += x[size_t(b) * per_block + i];
        max = std::max(max, int(x[size_t(b) * per_block + i]));
      }
      EXPECT_EQ(sums.host()[b], sum) << threads << " threads, block " << b;
      EXPECT_EQ(maxima.host()[b], max) << threads << " threads, block " << b;
    }
  }
  EXPECT_EQ(violations(), "");
}

__global__ void indices_kernel(unsigned* out) {
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  out[block * blockDim.x * blockDim.y * blockDim.z + thread] = block * 1000 + thread;
}

TEST_F(CudaEmulator, MultiDimensionalIndices) {
  const dim3 grid(3, 2, 2), block(8, 4, 2);
  const size_t count = 12 * 64;
  DeviceBuffer<unsigned> out("out", count);
  EMU_LAUNCH(indices_kernel, grid, block)(out.get());
  const std::vector<unsigned> o = out.host();
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(o[i], (i / 64) * 1000 + i % 64) << i;
  EXPECT_EQ(violations(), "");
}

__global__ void write_one_kernel(int* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out = 1;
}

TEST_F(CudaEmulator, RefusesInvalidLaunchShapes) {
  const struct {
    emu::Config config;
    const char* what;
  } invalid[] = {
      {emu::Config(1, 1025), "1025 threads"},
      {emu::Config(1, dim3(32, 32, 2)), "2048 threads"},
      {emu::Config(1, dim3(1, 1, 65)), "block.z 65"},
      {emu::Config(dim3(1, 65536), 32), "grid.y 65536"},
      {emu::Config(dim3(1, 1, 65536), 32), "grid.z 65536"},
      {emu::Config(0, 32), "empty grid"},
      {emu::Config(1, 32, 64 * 1024), "64 KiB shared memory"},
  };
  for (const auto& launch : invalid) {
    DeviceBuffer<int> out("out", std::vector<int>{0});
    emu::launcher(launch.config, [](int* p) { write_one_kernel(p); }, "write_one_kernel")(out.get());
    EXPECT_EQ(out.host()[0], 0) << launch.what << ": the kernel ran";
    EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration) << launch.what;
    EXPECT_THROW(DASNET_CUDA_CHECK_LAUNCH(), std::runtime_error) << launch.what;
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << launch.what << ": the error is not sticky";
    EXPECT_NE(violations().find("invalid launch"), std::string::npos) << launch.what;
  }
  DeviceBuffer<int> out("out", std::vector<int>{0});
  EMU_LAUNCH(write_one_kernel, dim3(70000, 1, 1), 1)(out.get());  // grid.x may exceed 65535
  EXPECT_EQ(out.host()[0], 1);
  EXPECT_NO_THROW(DASNET_CUDA_CHECK_LAUNCH());
}

__global__ void block_sum_kernel(const double* x, double* out) {
  const double sum = block_sum(x[threadIdx.x]);
  if (threadIdx.x == 0) *out = sum;
}

TEST_F(CudaEmulator, FlagsShuffleInPartialWarp) {
  DeviceBuffer<double> x("x", std::vector<double>(48, 1.0)), out("out", 1);
  EMU_LAUNCH(block_sum_kernel, 1, 48)(x.get(), out.get());  // block_reduce needs a multiple of 32
  EXPECT_NE(violations().find("which has only 16 threads"), std::string::npos);
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x % 2)
    __syncthreads();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

TEST_F(CudaEmulator, FlagsDivergentSyncthreads) {
  DeviceBuffer<int> out("out", 64);
  EMU_LAUNCH(divergent_barrier_kernel, 1, 64)(out.get());
  EXPECT_NE(violations().find("different __syncthreads"), std::string::npos);
}

__global__ void early_exit_kernel(double* out) {
  if (threadIdx.x >= 40) return;  // a bounds check before a block-wide barrier
  __syncthreads();
  out[threadIdx.x] = 1;
}

TEST_F(CudaEmulator, FlagsBarrierAfterThreadsExited) {
  DeviceBuffer<double> out("out", 64);
  EMU_LAUNCH(early_exit_kernel, 1, 64)(out.get());
  EXPECT_NE(violations().find("threads had exited"), std::string::npos);
}

__global__ void deadlock_kernel(double* out) {
  double v = 1;
  if (threadIdx.x < 16)
    v = __shfl_down_sync(0xffffffffu, v, 1);
  else
    __syncthreads();
  out[threadIdx.x] = v;
}

TEST_F(CudaEmulator, FlagsDeadlockAndRecovers) {
  DeviceBuffer<double> out("out", 64);
  EMU_LAUNCH(deadlock_kernel, 2, 64)(out.get());
  EXPECT_NE(violations().find("deadlock"), std::string::npos);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  // The abandoned threads do not disturb the next launch.
  DeviceBuffer<double> x("x", std::vector<double>(64, 2.0)), sum("sum", 1);
  EMU_LAUNCH(block_sum_kernel, 1, 64)(x.get(), sum.get());
  EXPECT_EQ(sum.host()[0], 128.0);
  EXPECT_EQ(violations(), "");
}

__global__ void publish_kernel(int* out, bool barrier) {
  __shared__ int value;
  if (threadIdx.x == 0) value = 100 + int(blockIdx.x);
  if (barrier) __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

// block_reduce (kernels/cuda/block_reduce.cuh) with either barrier left out on request.
__device__ double reduce_with_barriers(double value, bool middle, bool trailing) {
  __shared__ double warp_results[32];
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_results[warp] = value;
  if (middle) __syncthreads();
  const int warps = int(blockDim.x + 31) >> 5;
  value = int(threadIdx.x) < warps ? warp_results[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  if (trailing) __syncthreads();
  return value;
}

__global__ void two_reductions_kernel(const double* x, double* out, bool middle, bool trailing) {
  const double v = x[blockIdx.x * blockDim.x + threadIdx.x];
  const double sum = reduce_with_barriers(v, middle, trailing);
  const double squares = reduce_with_barriers(v * v, middle, trailing);
  if (threadIdx.x == 0) {
    out[2 * blockIdx.x] = sum;
    out[2 * blockIdx.x + 1] = squares;
  }
}

TEST_F(CudaEmulator, MissingBarriersShowAsWrongResults) {
  // Thread 0 publishes a value to its block.
  for (bool barrier : {true, false}) {
    DeviceBuffer<int> out("out", 4 * 64);
    EMU_LAUNCH(publish_kernel, 4, 64)(out.get(), barrier);
    size_t wrong = 0;
    const std::vector<int> o = out.host();
    for (size_t i = 0; i < o.size(); ++i) wrong += o[i] != 100 + int(i / 64);
    if (barrier)
      EXPECT_EQ(wrong, 0u);
    else
      EXPECT_GT(wrong, 0u) << "without the barrier, threads read the shared value before thread 0 wrote it";
  }
  // Two block reductions in a row, as channel_partial_moments does, without one of the barriers.
  const int blocks = 4, threads = 256;
  std::vector<double> x(size_t(blocks) * threads);
  for (size_t i = 0; i < x.size(); ++i) x[i] = double(i % 97) - 40;  // integers: every order sums exactly
  std::vector<double> expected(2 * blocks, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    expected[2 * (i / threads)] += x[i];
    expected[2 * (i / threads) + 1] += x[i] * x[i];
  }
  DeviceBuffer<double> d_x("x", x);
  for (int leave_out = 0; leave_out < 3; ++leave_out) {  // 0: none, 1: the middle barrier, 2: the trailing one
    DeviceBuffer<double> out("out", 2 * blocks);
    EMU_LAUNCH(two_reductions_kernel, blocks, threads)(d_x.get(), out.get(), leave_out != 1, leave_out != 2);
    if (leave_out == 0)
      EXPECT_EQ(out.host(), expected);
    else
      EXPECT_NE(out.host(), expected) << "without the " << (leave_out == 1 ? "middle" : "trailing")
                                      << " barrier of the block reduction";
  }
  EXPECT_EQ(violations(), "");
}

}  // namespace
}  // namespace dasnet::cuda
