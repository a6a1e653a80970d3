// A training step (forward, loss, backward, SGD) replayed as one CUDA graph: one launch instead
// of hundreds of kernel launches per step, on a backend that reports a StepGraph (the CUDA one).
//
// How: the first step of a batch size runs plainly (plans memory, searches cuDNN algorithms,
// grows workspaces); the next is captured and replayed; later ones only replay, with the new
// images, labels and learning rate copied into the pinned buffers the graph reads. Any plain
// step or any device allocation since the capture (another batch size, an evaluation that grew
// the arena) drops the graph, and the next full step recaptures. The loss totals still come
// back every step (one host wait per step, after the whole step).
#pragma once
#include "core/network.h"
#include "train/optimizer.h"

namespace dasnet {

class CudaGraphTrainingStep {
 public:
  // `enabled` false: every step runs plainly (the flag that turns graphs off).
  CudaGraphTrainingStep(Network& net, Sgd& sgd, OutputMode mode, bool enabled = true);
  LossTotals run(const float* images, const int* labels, int n, float lr);
  long replays() const { return replays_; }
  // Whether steps are captured and replayed (a backend with a StepGraph, graphs enabled).
  bool active() const { return graph_ != nullptr; }

 private:
  LossTotals plain_step(const float* images, const int* labels, int n, float lr);
  Network& net_;
  Sgd& sgd_;
  OutputMode mode_;
  StepGraph* graph_;  // null: the backend has none, or graphs off
  int warmed_batch_ = 0;         // batch of the last plain step
  int graph_batch_ = 0;
  size_t graph_generation_ = 0;
  long replays_ = 0;
};

}  // namespace dasnet
