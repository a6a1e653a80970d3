// The CUDA backend's graph of a training step: capture, instantiate, replay with new host inputs,
// drop. The backend owns one and reports it as its StepGraph (core/backend.h); its ops ask it
// whether they are being captured and tell it what the step reads from the host.
//
// Replay returns as soon as the loss totals are in (an event recorded in the graph after their
// copy), not after the whole step: backward and SGD still run while the caller prepares the next
// batch, as in a plain step, which reads the loss after the forward pass. That is safe because
// every copy out of the pinned staging buffers (images, labels, learning rate) comes before the
// loss in the graph. Internal to kernels/cuda (needs the CUDA headers).
#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <vector>

#include "core/backend.h"
#include "kernels/cuda/device_buffers.h"

namespace dasnet::cuda {

class GraphCapture : public StepGraph {
 public:
  // `memory_generation`: the backend's count of allocations and reallocations.
  GraphCapture(cudaStream_t stream, HostStaging& staging, std::function<size_t()> memory_generation);
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;
  ~GraphCapture();  // after the backend waited for its stream

  void begin_capture() override;
  void end_capture() override;
  bool has_graph() const override { return graph_ != nullptr; }
  void drop_graph() override { graph_.reset(); }
  LossTotals replay(const float* images_nchw, size_t image_count, const int* labels, int label_count,
                    float lr) override;
  size_t memory_generation() const override { return memory_generation_(); }

  // --- For the backend's ops while a step is being captured ---
  bool capturing() const { return capturing_; }
  // from_nchw staged `count` image values.
  void note_images(size_t count) { image_count_ = count; }
  // loss() queued its totals' copy into the staging buffer: they are ready when this point of
  // the graph is; replay checks its labels against `mode` and `outputs`.
  void note_loss(OutputMode mode, int label_count, int outputs);
  // The device learning rate the captured SGD reads (copied from pinned memory at the start of
  // each replay); one learning rate per captured step.
  const float* learning_rate_on_device(float lr);
  // A release during the capture (a step that threw half-way) happens after it ends.
  void defer_free(float* p) { frees_after_capture_.push_back(p); }

 private:
  void free_deferred();
  cudaStream_t stream_;
  HostStaging& staging_;
  std::function<size_t()> memory_generation_;
  UniqueGraphExec graph_;
  UniqueEvent totals_ready_;
  PinnedBuffer<float> staged_learning_rate_;
  DeviceBuffer<float> learning_rate_;
  bool capturing_ = false;
  bool learning_rate_captured_ = false;
  float captured_learning_rate_ = 0;
  bool loss_captured_ = false;
  size_t image_count_ = 0;
  int label_count_ = 0;
  OutputMode mode_ = OutputMode::Softmax;
  int outputs_ = 0;
  std::vector<float*> frees_after_capture_;
};

}  // namespace dasnet::cuda
