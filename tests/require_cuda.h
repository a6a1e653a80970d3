// DASNET_REQUIRE_CUDA(): skips the current GPU test, saying why, when no CUDA device is usable.
// Only for builds with the CUDA backend (DASNET_HAVE_CUDA).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "kernels/cuda/cuda_backend.h"

#define DASNET_REQUIRE_CUDA()                                                            \
  do {                                                                                   \
    std::string why_no_cuda;                                                             \
    if (!::dasnet::cuda_device_available(&why_no_cuda)) GTEST_SKIP() << "no CUDA device: " << why_no_cuda; \
  } while (0)
