#include "kernels/cuda/graph_capture.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace dasnet::cuda {

GraphCapture::GraphCapture(cudaStream_t stream, HostStaging& staging, std::function<size_t()> memory_generation)
    : stream_(stream), staging_(staging), memory_generation_(std::move(memory_generation)) {
  DASNET_CUDA_CHECK(cudaEventCreateWithFlags(totals_ready_.out(), cudaEventDisableTiming));
  staged_learning_rate_.ensure(1, false, "learning rate");
  learning_rate_.ensure(1, false, "learning rate", stream_);
}

GraphCapture::~GraphCapture() { free_deferred(); }

void GraphCapture::free_deferred() {
  for (float* p : frees_after_capture_) cudaFree(p);
  frees_after_capture_.clear();
}

void GraphCapture::begin_capture() {
  if (capturing_) throw std::logic_error("begin_capture: already capturing");
  drop_graph();
  DASNET_CUDA_CHECK(cudaStreamSynchronize(stream_));  // staging buffers are free, nothing in flight
  staging_.images_pending = false;
  learning_rate_captured_ = false;
  loss_captured_ = false;
  image_count_ = 0;
  label_count_ = 0;
  // Relaxed mode: other threads (the loader) may use the CUDA API meanwhile without breaking us.
  DASNET_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
  capturing_ = true;
  // The learning rate is copied first, with the other host inputs, so that all of them have been
  // read by the time replay() returns at the loss.
  const cudaError_t copied = cudaMemcpyAsync(learning_rate_.data, staged_learning_rate_.data, sizeof(float),
                                             cudaMemcpyHostToDevice, stream_);
  if (copied != cudaSuccess) {  // leave no capture open behind the error
    capturing_ = false;
    cudaGraph_t partial = nullptr;
    if (cudaStreamEndCapture(stream_, &partial) == cudaSuccess && partial) cudaGraphDestroy(partial);
    DASNET_CUDA_CHECK(copied);
  }
}

void GraphCapture::end_capture() {
  if (!capturing_) throw std::logic_error("end_capture without begin_capture");
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
  free_deferred();
  DASNET_CUDA_CHECK(ended);
  cudaError_t status = cudaGraphInstantiateWithFlags(graph_.out(), graph, 0);  // same call in CUDA 11.4 to 13
  cudaGraphDestroy(graph);
  if (status != cudaSuccess) graph_.reset();  // has_graph() must not see a failed instantiation
  DASNET_CUDA_CHECK(status);
}

void GraphCapture::note_loss(OutputMode mode, int label_count, int outputs) {
  // An event record node of the graph (cudaEventRecordExternal): replay waits for it alone.
  DASNET_CUDA_CHECK(cudaEventRecordWithFlags(totals_ready_, stream_, cudaEventRecordExternal));
  loss_captured_ = true;
  label_count_ = label_count;
  mode_ = mode;
  outputs_ = outputs;
}

const float* GraphCapture::learning_rate_on_device(float lr) {
  if (!learning_rate_captured_) {
    learning_rate_captured_ = true;
    captured_learning_rate_ = lr;
  } else if (lr != captured_learning_rate_) {
    throw std::logic_error("CUDA graph capture: one learning rate per captured step");
  }
  return learning_rate_.data;
}

LossTotals GraphCapture::replay(const float* images_nchw, size_t image_count, const int* labels, int label_count,
                                float lr) {
  if (!graph_) throw std::logic_error("replay without a captured graph");
  if (image_count != image_count_ || label_count != label_count_)
    throw std::logic_error("replay: batch differs from the captured one (" + std::to_string(image_count) + " values, " +
                           std::to_string(label_count) + " labels vs " + std::to_string(image_count_) + ", " +
                           std::to_string(label_count_) + ")");
  if (label_count) validate_labels(mode_, label_count, outputs_, labels);
  // The previous replay has read its inputs (its totals came after them); a plain from_nchw since
  // (an evaluation or prediction) may still be copying out of the staged images.
  staging_.wait_for_images();
  if (image_count) std::memcpy(staging_.images.data, images_nchw, image_count * sizeof(float));
  if (label_count) std::memcpy(staging_.labels.data, labels, size_t(label_count) * sizeof(int));
  staged_learning_rate_.data[0] = lr;
  DASNET_CUDA_CHECK(cudaGraphLaunch(graph_, stream_));
  if (!loss_captured_) {  // no totals to wait for: the whole step
    DASNET_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return {};
  }
  DASNET_CUDA_CHECK(cudaEventSynchronize(totals_ready_));
  LossTotals totals;
  if (label_count) {
    totals.loss_sum = staging_.results.data[0];
    totals.correct = long(std::llround(staging_.results.data[1]));
  }
  return totals;
}

}  // namespace dasnet::cuda
