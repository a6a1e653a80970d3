#include "train/cuda_graph_step.h"

namespace dasnet {

CudaGraphTrainingStep::CudaGraphTrainingStep(Network& net, Sgd& sgd, OutputMode mode, bool enabled)
    : net_(net), sgd_(sgd), mode_(mode), graph_(enabled ? net.backend().step_graph() : nullptr) {}

LossTotals CudaGraphTrainingStep::plain_step(const float* images, const int* labels, int n, float lr) {
  const Tensor& logits = net_.forward(images, n, true);
  LossTotals totals = net_.backend().loss(mode_, logits, labels, &net_.logits_gradient(), nullptr);
  net_.backward();
  sgd_.step(lr);
  return totals;
}

LossTotals CudaGraphTrainingStep::run(const float* images, const int* labels, int n, float lr) {
  if (!graph_) return plain_step(images, labels, n, lr);
  const bool graph_valid = graph_->has_graph() && graph_batch_ == n && graph_generation_ == graph_->memory_generation();
  if (!graph_valid) {
    // A graph gone stale (memory reallocated, other batch size) may mean new shapes or buffers:
    // one plain step settles them before the next capture.
    if (graph_->has_graph()) warmed_batch_ = 0;
    if (warmed_batch_ != n) {  // shapes not seen since the last change: run plainly first
      graph_->drop_graph();
      warmed_batch_ = n;
      return plain_step(images, labels, n, lr);
    }
    graph_->begin_capture();
    try {
      const Tensor& logits = net_.forward(images, n, true);
      net_.backend().loss(mode_, logits, labels, &net_.logits_gradient(), nullptr);
      net_.backward();
      sgd_.step(lr);
    } catch (...) {
      try {
        graph_->end_capture();
      } catch (...) {
      }
      graph_->drop_graph();
      throw;
    }
    graph_->end_capture();  // nothing ran yet: the replay below performs this step
    graph_batch_ = n;
    graph_generation_ = graph_->memory_generation();
  }
  ++replays_;
  return graph_->replay(images, net_.sample_shape().per_sample() * size_t(n), labels, n, lr);
}

}  // namespace dasnet
