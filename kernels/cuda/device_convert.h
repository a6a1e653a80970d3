// Raw DAS samples (int16 as recorders store them, or uint8 images) -> floats in [0, 1] on the
// device, with the study's per-patch min-max scaling (io/patch_image.h: patch_to_unit_floats),
// so raw batches can travel to the GPU at half or a quarter of the float size.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace dasnet::cuda {

enum PatchConversionStatus : uint8_t { kPatchConverted = 0, kPatchConstant = 1 };

// `patches` consecutive patches of `patch_elements` values each (device memory). Patch i is
// scaled by its own minimum and maximum; a constant patch has no contrast to scale: its output
// is left untouched and status[i] = kPatchConstant (callers skip it, as on the CPU).
void convert_patches_to_unit_floats(const int16_t* src, float* dst, uint8_t* status, int patches,
                                    size_t patch_elements, cudaStream_t stream);
void convert_patches_to_unit_floats(const uint8_t* src, float* dst, uint8_t* status, int patches,
                                    size_t patch_elements, cudaStream_t stream);

}  // namespace dasnet::cuda
