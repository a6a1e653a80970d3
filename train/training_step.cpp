#include "train/training_step.h"

#include <cmath>

#include "core/usage_error.h"
#include "train/cuda_graph_step.h"

namespace dasnet {

namespace {

class PlainStep : public TrainingStep {
 public:
  PlainStep(Network& net, Sgd& sgd, OutputMode mode) : net_(net), sgd_(sgd), mode_(mode) {}
  StepResult run(const float* images, const int* labels, int n, float lr) override {
    const Tensor& logits = net_.forward(images, n, true);
    StepResult r;
    r.totals = net_.backend().loss(mode_, logits, labels, &net_.logits_gradient(), nullptr);
    r.deciding_loss = r.totals.loss_sum;
    if (!std::isfinite(r.deciding_loss)) return r;
    net_.backward();
    sgd_.step(lr);
    return r;
  }

 private:
  Network& net_;
  Sgd& sgd_;
  OutputMode mode_;
};

class DataParallelStep : public TrainingStep {
 public:
  DataParallelStep(Network& net, Sgd& sgd, OutputMode mode, GradientSync& sync, bool sync_batchnorm)
      : net_(net), sgd_(sgd), mode_(mode), sync_(sync) {
    // Every rank starts from rank 0's weights and optimizer state (fresh or resumed).
    ParameterSet& ps = net.params();
    sync.broadcast(ps.params(), ps.parameter_count());
    sync.broadcast(ps.state(), ps.state_count());
    sync.broadcast(sgd.velocity(), ps.parameter_count());
    if (sync_batchnorm && !sync.batchnorm_reducer())
      throw UsageError("synchronized batchnorm: not supported by this gradient sync");
    net.set_gradient_ready([this](size_t offset, size_t count) { sync_.gradient_ready(offset, count); });
    if (sync_batchnorm) net.set_channel_reducer(sync.batchnorm_reducer());
  }
  ~DataParallelStep() override {
    net_.set_gradient_ready(nullptr);
    net_.set_channel_reducer(nullptr);
  }
  StepResult run(const float* images, const int* labels, int n, float lr) override {
    sync_.begin_step();
    const Tensor& logits = net_.forward(images, n, true);
    StepResult r;
    r.totals = net_.backend().loss(mode_, logits, labels, &net_.logits_gradient(), nullptr);
    // Backward first: the loss summed over ranks decides, so every rank stops at the same step.
    net_.backward();
    r.deciding_loss = sync_.finish_step(r.totals.loss_sum);
    if (std::isfinite(r.deciding_loss)) sgd_.step(lr);
    return r;
  }

 private:
  Network& net_;
  Sgd& sgd_;
  OutputMode mode_;
  GradientSync& sync_;
};

// The whole step at once: a non-finite loss is seen after this step's update, and the run stops
// before anything more is saved.
class GraphStep : public TrainingStep {
 public:
  explicit GraphStep(std::unique_ptr<CudaGraphTrainingStep> graph) : graph_(std::move(graph)) {}
  StepResult run(const float* images, const int* labels, int n, float lr) override {
    StepResult r;
    r.totals = graph_->run(images, labels, n, lr);
    r.deciding_loss = r.totals.loss_sum;
    return r;
  }
  long graph_replays() const override { return graph_->replays(); }

 private:
  std::unique_ptr<CudaGraphTrainingStep> graph_;
};

}  // namespace

std::unique_ptr<TrainingStep> make_training_step(Network& net, Sgd& sgd, OutputMode mode, GradientSync* sync,
                                                 bool sync_batchnorm, bool cuda_graphs) {
  // Data-parallel steps stay off graphs: their collectives wait on the host between backward and SGD.
  if (sync) return std::make_unique<DataParallelStep>(net, sgd, mode, *sync, sync_batchnorm);
  if (cuda_graphs) {
    auto graph = std::make_unique<CudaGraphTrainingStep>(net, sgd, mode);
    if (graph->active()) return std::make_unique<GraphStep>(std::move(graph));
  }
  return std::make_unique<PlainStep>(net, sgd, mode);
}

}  // namespace dasnet
