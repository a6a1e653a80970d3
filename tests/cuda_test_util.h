// Shared by the GPU tests (builds with the CUDA backend only, DASNET_HAVE_CUDA):
// DASNET_REQUIRE_CUDA() skips the current test, saying why, when no CUDA device is usable, and
// options_for() makes the backend options of a precision.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "kernels/cuda/cuda_backend.h"

#define DASNET_REQUIRE_CUDA()                                                            \
  do {                                                                                   \
    std::string why_no_cuda;                                                             \
    if (!::dasnet::cuda_device_available(&why_no_cuda)) GTEST_SKIP() << "no CUDA device: " << why_no_cuda; \
  } while (0)

namespace dasnet::testing {

inline CudaOptions options_for(CudaPrecision precision, bool deterministic = false) {
  CudaOptions options;
  options.precision = precision;
  options.deterministic = deterministic;
  return options;
}

}  // namespace dasnet::testing
