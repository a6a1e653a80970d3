#include "kernels/cuda/loss_scaler.h"
#include "core/usage_error.h"

namespace dasnet::cuda {

namespace {
constexpr int kLossScaleGrowthInterval = 2000;  // clean steps before the scale doubles (PyTorch's default)
}

LossScaler::LossScaler(float initial_scale, cudaStream_t stream) : stream_(stream) {
  if (!(initial_scale >= 1)) throw UsageError("the initial loss scale must be >= 1");
  state_.ensure(1, false, "the loss scale", stream_);
  write({initial_scale, 0.0f, 0, 0});
}

void LossScaler::unscale(float* grads, size_t count) { launch_unscale_gradients(grads, count, state_.data, stream_); }

void LossScaler::finish_step() { launch_update_loss_scale(state_.data, kLossScaleGrowthInterval, stream_); }

CudaLossScale LossScaler::read() {
  LossScaleState state{};
  DASNET_CUDA_CHECK(cudaMemcpyAsync(&state, state_.data, sizeof state, cudaMemcpyDeviceToHost, stream_));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return {state.scale, state.clean_steps, state.skipped_steps};
}

std::vector<double> LossScaler::saved() {
  const CudaLossScale current = read();
  return {current.scale, double(current.clean_steps), double(current.skipped_steps)};
}

void LossScaler::restore(const std::vector<double>& saved) {
  if (!restorable(saved)) return;
  write({float(saved[0]), 0.0f, int(saved[1]), int(saved[2])});
}

void LossScaler::write(const LossScaleState& state) {
  DASNET_CUDA_CHECK(cudaMemcpyAsync(state_.data, &state, sizeof state, cudaMemcpyHostToDevice, stream_));
  DASNET_CUDA_CHECK(cudaStreamSynchronize(stream_));  // `state` lives on the caller's stack
}

}  // namespace dasnet::cuda
