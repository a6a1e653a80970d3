// The training and evaluation loop: epochs of shuffled batches, SGD, validation, per-epoch
// metrics (loss, accuracy, validation accuracy, throughput = samples / epoch wall time as the
// study measured it, peak memory), a live progress line, and divergence detection.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/data_source.h"
#include "core/gradient_sync.h"
#include "core/network.h"
#include "models/model_config.h"
#include "train/optimizer.h"

namespace dasnet {

class Loader;
struct LoaderOptions;
class TrainingStep;

struct TrainConfig {
  int epochs = 10;
  int batch_size = 128;
  uint64_t seed = 0;
  OptimizerConfig optimizer;
  bool progress = true;  // live progress line on stderr
  bool linear_lr_scaling = false;  // data-parallel: lr x ranks (with the warm-up, if any)
  // Precise batchnorm (train/precise_batchnorm.h): before each evaluation the running statistics
  // are recomputed over this many training batches. 0: PyTorch's momentum statistics (the study's).
  int bn_recalibrate = 0;
  // CUDA backend, one process: replay each training step as one captured CUDA graph
  // (train/cuda_graph_step.h). A run option, not saved in checkpoints: results are the same.
  bool cuda_graphs = true;
  void validate() const;
  std::string to_json() const;
  static TrainConfig from_json(const std::string& json);
};

// Everything needed to continue training bit-exactly.
// One tensor of a flat parameter or state array, in slot order: its PyTorch name and shape.
struct NamedShape {
  std::string name;
  std::vector<size_t> shape;
};

struct TrainingState {
  ModelConfig model;
  TrainConfig train;
  int epochs_done = 0;
  std::vector<float> params, state, velocity;
  std::vector<double> backend_optimizer_state;  // Backend::optimizer_state() (fp16 loss scaling)
  // How params/velocity and state split into named tensors (the checkpoint stores one data set
  // per tensor, under PyTorch's names).
  std::vector<NamedShape> parameter_layout, state_layout;
  long batches_trained = 0;  // training steps so far: PyTorch's BatchNorm num_batches_tracked
};

// Reference name -> P(usable), in the order the references were given; JSON: an object.
struct ReferenceProbabilities : std::vector<std::pair<std::string, double>> {
  using vector::vector;
  using vector::operator=;
};

// One line of the metrics file (JSON form: train/records_json.h).
struct EpochMetrics {
  int epoch = 0;  // 1-based
  int epochs = 0;
  float lr = 0;
  long train_samples = 0;
  double train_loss = 0, train_accuracy = 0;
  long val_samples = 0;
  double val_loss = 0, val_accuracy = 0;
  double epoch_seconds = 0, samples_per_s = 0;
  double peak_memory_mb = 0;
  int ranks = 1;  // data-parallel ranks: samples, loss, accuracy and samples/s are over all of them
  long skipped_steps = 0;  // fp16 loss scaling: steps left out because their gradients overflowed
  int bn_recalibrate = 0;  // training batches the batchnorm statistics were recomputed over (0: momentum)
  ReferenceProbabilities p_usable;  // filled by callers that evaluate references
  std::string to_json() const;
};

struct EvalResult {
  long count = 0;
  double loss = 0, accuracy = 0;
  int classes = 0;
  std::vector<long> confusion;        // classes x classes, [true][predicted] (class modes)
  std::vector<float> probabilities;   // count x K, when requested
  std::vector<int> labels;
};

// Copies a checkpoint's parameters and batchnorm statistics into a network built from its config.
void load_weights(Network& net, const TrainingState& state);

// The output probabilities of `count` images (NCHW floats), count x K (the columns p0..pK-1 of
// `dasnet predict`), in eval mode.
std::vector<float> predict_probabilities(Network& net, OutputMode mode, const float* images, int count);

// P(usable) of `count` images (NCHW floats): the sigmoid output (K = 1) or the probability of
// class 1, waves (K >= 2), in eval mode.
std::vector<float> predict_p_usable(Network& net, OutputMode mode, const float* images, int count);

EvalResult evaluate(Network& net, OutputMode mode, const DataSource& data, int batch_size,
                    bool keep_probabilities = false);

// Peak resident memory of this process so far, in MiB.
double peak_memory_mb();

enum class TrainStatus { Completed, Diverged };

class Trainer {
 public:
  Trainer(Network& net, const ModelConfig& model, const TrainConfig& config, const DataSource& train,
          const DataSource* validation);
  ~Trainer();
  void restore(const TrainingState& state);
  TrainingState snapshot() const;
  // Runs the remaining epochs; on_epoch is called after each (metrics, then state may be saved).
  TrainStatus run(const std::function<void(const EpochMetrics&)>& on_epoch);
  int epochs_done() const { return epochs_done_; }
  // Data-parallel training (dist/data_parallel.h): each rank trains on its shard of every epoch
  // with gradients averaged over the ranks. Not owned; must outlive run(). With
  // `sync_batchnorm`, batchnorm statistics in training are over the batches of all ranks.
  void set_gradient_sync(GradientSync* sync, bool sync_batchnorm = false) {
    sync_ = sync;
    sync_batchnorm_ = sync_batchnorm;
  }
  const std::string& divergence() const { return divergence_; }
  // Training steps that ran as a replayed CUDA graph (TrainConfig::cuda_graphs), over all run() calls.
  long cuda_graph_replays() const { return graph_replays_; }

 private:
  // The epoch's batches through `step`, its metrics into m; false when the run diverged.
  bool train_epoch(TrainingStep& step, Loader& loader, int epoch, EpochMetrics& m);
  void reduce_over_ranks(EpochMetrics& m, double loss_sum, long correct);
  bool validate_epoch(int epoch, EpochMetrics& m);
  void settle_batchnorm_statistics(int epoch, long steps_done, EpochMetrics& m);
  LoaderOptions loader_options() const;

  Network& net_;
  ModelConfig model_;
  TrainConfig config_;
  const DataSource& train_;
  const DataSource* validation_;
  std::unique_ptr<Sgd> sgd_;
  int epochs_done_ = 0;
  long batches_trained_ = 0;
  std::string divergence_;
  GradientSync* sync_ = nullptr;
  bool sync_batchnorm_ = false;
  long graph_replays_ = 0;
  bool warned_initial_statistics_ = false;
};

}  // namespace dasnet
