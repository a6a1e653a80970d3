// fp16's dynamic loss scaling, all on the device (as PyTorch's GradScaler): the loss gradient is
// multiplied by the scale, the gradients are divided by it before SGD, a step whose gradients
// overflowed is skipped and halves the scale, 2000 clean steps double it. Owned by the CUDA
// backend in fp16 only. Internal to kernels/cuda (needs the CUDA headers).
#pragma once
#include <cuda_runtime.h>

#include <vector>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_buffers.h"
#include "kernels/cuda/kernels.h"

namespace dasnet::cuda {

class LossScaler {
 public:
  LossScaler(float initial_scale, cudaStream_t stream);
  // Device values the loss and SGD kernels read: the factor of the loss gradient, and the flag
  // that the current step's gradients overflowed (the step is left out).
  const float* gradient_scale() const { return &state_.data->scale; }
  const float* overflowed() const { return &state_.data->found_inf; }
  // Divides the flat gradient buffer by the scale and notes any overflow.
  void unscale(float* grads, size_t count);
  // After the optimizer step: halves the scale after an overflow, doubles it after enough clean steps.
  void finish_step();
  CudaLossScale read();  // waits for the device
  // For checkpoints: {scale, clean steps, skipped steps}. Restoring a vector of another size or
  // a scale below 1 (a checkpoint of another precision) changes nothing.
  std::vector<double> saved();
  static bool restorable(const std::vector<double>& saved) { return saved.size() == 3 && saved[0] >= 1; }
  void restore(const std::vector<double>& saved);

 private:
  void write(const LossScaleState& state);
  cudaStream_t stream_;
  DeviceBuffer<LossScaleState> state_;
};

}  // namespace dasnet::cuda
