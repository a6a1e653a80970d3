#include "train/trainer.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include "core/usage_error.h"
#include "io/loader.h"
#include "layers/batchnorm.h"
#include "train/precise_batchnorm.h"
#include "train/records_json.h"
#include "train/training_step.h"

namespace dasnet {

using Clock = std::chrono::steady_clock;

void TrainConfig::validate() const {
  if (epochs <= 0) throw UsageError("--epochs must be positive, got " + std::to_string(epochs));
  if (batch_size <= 0) throw UsageError("--batch-size must be positive, got " + std::to_string(batch_size));
  if (bn_recalibrate < 0) throw UsageError("--bn-recalibrate must be >= 0, got " + std::to_string(bn_recalibrate));
  optimizer.validate();
}

std::string EpochMetrics::to_json() const { return nlohmann::json(*this).dump(); }

double peak_memory_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

std::vector<float> predict_probabilities(Network& net, OutputMode mode, const float* images, int count) {
  const int k = net.output_count();
  Backend& backend = net.backend();
  const Tensor& logits = net.forward(images, count, false);
  Buffer probs = backend.allocate(size_t(count) * k);
  Tensor p{probs.data(), logits.shape, Layout::NCHW};
  std::vector<int> labels(count, 0);
  std::vector<float> host(size_t(count) * k);
  backend.loss(mode, logits, labels.data(), nullptr, &p);
  backend.copy_to_host(host.data(), probs.data(), host.size());
  return host;
}

std::vector<float> predict_p_usable(Network& net, OutputMode mode, const float* images, int count) {
  const int k = net.output_count();
  const std::vector<float> host = predict_probabilities(net, mode, images, count);
  std::vector<float> result(count);
  for (int i = 0; i < count; ++i) result[i] = host[size_t(i) * k + (k == 1 ? 0 : 1)];
  return result;
}

EvalResult evaluate(Network& net, OutputMode mode, const DataSource& data, int batch_size, bool keep_probabilities) {
  EvalResult r;
  const int k = net.output_count();
  r.classes = mode == OutputMode::Sigmoid ? 2 : k;
  if (mode != OutputMode::Multilabel) r.confusion.assign(size_t(r.classes) * r.classes, 0);
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  Loader loader(data, options);
  loader.start_epoch(0);
  Batch batch;
  std::vector<float> probs_host;
  Backend& backend = net.backend();
  Buffer probs = backend.allocate(size_t(batch_size) * k);
  double loss_sum = 0;
  long correct = 0;
  while (loader.next(batch)) {
    const int n = batch.count();
    const Tensor& logits = net.forward(batch.images.data(), n, false);
    Tensor p{probs.data(), logits.shape, Layout::NCHW};
    LossTotals t = backend.loss(mode, logits, batch.labels.data(), nullptr, &p);
    loss_sum += t.loss_sum;
    correct += t.correct;
    probs_host.resize(size_t(n) * k);
    backend.copy_to_host(probs_host.data(), probs.data(), probs_host.size());
    for (int i = 0; i < n; ++i) {
      if (!r.confusion.empty()) {
        const float* pi = &probs_host[size_t(i) * k];
        int predicted = mode == OutputMode::Sigmoid ? (pi[0] > 0.5f) : int(std::max_element(pi, pi + k) - pi);
        r.confusion[size_t(batch.labels[i]) * r.classes + predicted]++;
      }
      r.labels.push_back(batch.labels[i]);
    }
    if (keep_probabilities) r.probabilities.insert(r.probabilities.end(), probs_host.begin(), probs_host.end());
    r.count += n;
  }
  if (!keep_probabilities) r.labels.clear();
  r.loss = r.count ? loss_sum / r.count : 0;
  r.accuracy = r.count ? double(correct) / r.count : 0;
  return r;
}

Trainer::Trainer(Network& net, const ModelConfig& model, const TrainConfig& config, const DataSource& train,
                 const DataSource* validation)
    : net_(net), model_(model), config_(config), train_(train), validation_(validation) {
  config_.validate();
  if (train.size() == 0) throw UsageError("the training set is empty");
  if (train.sample_shape() != net.sample_shape())
    throw UsageError("training images are " + train.sample_shape().str() + " but the model expects " +
                     net.sample_shape().str() + " (set --channels / image size to match the data)");
  sgd_ = std::make_unique<Sgd>(net.backend(), net.params(), config_.optimizer);
}

Trainer::~Trainer() = default;

void load_weights(Network& net, const TrainingState& s) {
  ParameterSet& ps = net.params();
  if (s.params.size() != ps.parameter_count() || s.state.size() != ps.state_count())
    throw std::runtime_error("checkpoint holds " + std::to_string(s.params.size()) + " parameters and " +
                             std::to_string(s.state.size()) + " statistics, the model has " +
                             std::to_string(ps.parameter_count()) + " and " + std::to_string(ps.state_count()));
  net.backend().copy_from_host(ps.params(), s.params.data(), s.params.size());
  net.backend().copy_from_host(ps.state(), s.state.data(), s.state.size());
}

void Trainer::restore(const TrainingState& s) {
  load_weights(net_, s);
  if (s.velocity.size() != net_.params().parameter_count())
    throw std::runtime_error("checkpoint optimizer state does not match the model");
  net_.backend().copy_from_host(sgd_->velocity(), s.velocity.data(), s.velocity.size());
  net_.backend().restore_optimizer_state(s.backend_optimizer_state);
  epochs_done_ = s.epochs_done;
  batches_trained_ = s.batches_trained;
}

TrainingState Trainer::snapshot() const {
  TrainingState s;
  s.model = model_;
  s.train = config_;
  s.epochs_done = epochs_done_;
  const ParameterSet& ps = net_.params();
  Backend& b = net_.backend();
  s.params.resize(ps.parameter_count());
  s.state.resize(ps.state_count());
  s.velocity.resize(ps.parameter_count());
  b.copy_to_host(s.params.data(), ps.params(), s.params.size());
  b.copy_to_host(s.state.data(), ps.state(), s.state.size());
  b.copy_to_host(s.velocity.data(), sgd_->velocity(), s.velocity.size());
  s.backend_optimizer_state = b.optimizer_state();
  s.batches_trained = batches_trained_;
  for (const auto& slot : ps.slots()) s.parameter_layout.push_back({slot.name, slot.shape});
  for (const auto& slot : ps.state_slots()) s.state_layout.push_back({slot.name, slot.shape});
  return s;
}

namespace {

// The live progress line on stderr: redrawn in place on a terminal, a line every 30 s elsewhere.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), tty_(enabled && isatty(STDERR_FILENO)) {}
  void start_epoch() { start_ = last_ = Clock::now(); }
  void step(int epoch, int epochs, int step, int steps, double loss_sum, long correct, long seen,
            size_t samples_per_epoch) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!tty_ && std::chrono::duration<double>(now - last_).count() <= 30.0) return;
    last_ = now;
    const double rate = seen / std::max(std::chrono::duration<double>(now - start_).count(), 1e-9);
    const double eta = (double(samples_per_epoch) - seen) / std::max(rate, 1e-9);
    std::fprintf(stderr, "%sepoch %d/%d  step %d/%d  loss %.4f  acc %.3f  %.1f samples/s  eta %.0fs%s",
                 tty_ ? "\r" : "", epoch, epochs, step, steps, loss_sum / seen, double(correct) / seen, rate, eta,
                 tty_ ? "   " : "\n");
    std::fflush(stderr);
  }
  // The run stops in the middle of a line: end it.
  void interrupt() {
    if (tty_) std::fprintf(stderr, "\n");
  }
  void clear() {
    if (tty_) std::fprintf(stderr, "\r%*s\r", 100, "");
  }

 private:
  bool enabled_, tty_;
  Clock::time_point start_, last_;
};

}  // namespace

LoaderOptions Trainer::loader_options() const {
  LoaderOptions options;
  options.batch_size = config_.batch_size;
  options.seed = config_.seed;
  if (sync_) {
    options.rank = sync_->rank();
    options.world = sync_->world();
  }
  return options;
}

bool Trainer::train_epoch(TrainingStep& step, Loader& loader, int epoch, EpochMetrics& m) {
  loader.start_epoch(epoch);
  const int steps = int((loader.samples_per_epoch() + config_.batch_size - 1) / config_.batch_size);
  const float lr_scale = config_.linear_lr_scaling && sync_ ? float(sync_->world()) : 1.0f;
  Backend& backend = net_.backend();
  const long skipped_before = backend.skipped_optimizer_steps();
  ProgressLine progress(config_.progress);
  progress.start_epoch();
  const auto start = Clock::now();
  double loss_sum = 0;
  long correct = 0, seen = 0;
  Batch batch;
  for (int s = 0; loader.next(batch); ++s) {
    const int n = batch.count();
    const float lr = lr_scale * learning_rate(config_.optimizer, epoch, s, steps, config_.epochs);
    m.lr = lr;
    const StepResult r = step.run(batch.images.data(), batch.labels.data(), n, lr);
    if (!std::isfinite(r.deciding_loss)) {
      divergence_ = "loss is " + std::to_string(r.deciding_loss) + " at epoch " + std::to_string(epoch + 1) +
                    ", step " + std::to_string(s + 1) + " (learning rate " + std::to_string(lr) + ")";
      progress.interrupt();
      return false;
    }
    ++batches_trained_;
    loss_sum += r.totals.loss_sum;
    correct += r.totals.correct;
    seen += n;
    progress.step(epoch + 1, config_.epochs, s + 1, steps, loss_sum, correct, seen, loader.samples_per_epoch());
  }
  m.epoch_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  m.skipped_steps = backend.skipped_optimizer_steps() - skipped_before;
  // Loss scaling that never finds a scale the gradients fit at trains nothing, with finite losses.
  if (steps > 0 && m.skipped_steps >= steps) {
    divergence_ = "all " + std::to_string(steps) + " steps of epoch " + std::to_string(epoch + 1) +
                  " were skipped: fp16 gradients overflowed at every loss scale (try --precision bf16, or a lower "
                  "--lr)";
    progress.interrupt();
    return false;
  }
  progress.clear();
  m.train_samples = seen;
  m.train_loss = loss_sum / std::max<long>(seen, 1);
  m.train_accuracy = double(correct) / std::max<long>(seen, 1);
  m.samples_per_s = seen / std::max(m.epoch_seconds, 1e-9);
  if (sync_) reduce_over_ranks(m, loss_sum, correct);
  return true;
}

void Trainer::reduce_over_ranks(EpochMetrics& m, double loss_sum, long correct) {
  // Over all ranks; throughput summed over ranks as the study measured it.
  double totals[4] = {loss_sum, double(correct), double(m.train_samples), m.samples_per_s};
  sync_->sum(totals, 4);
  m.ranks = sync_->world();
  m.train_samples = long(totals[2]);
  m.train_loss = totals[0] / std::max(totals[2], 1.0);
  m.train_accuracy = totals[1] / std::max(totals[2], 1.0);
  m.samples_per_s = totals[3];
  // Batchnorm running statistics are local to each rank (equal already with synchronized
  // batchnorm, up to rounding); take rank 0's, as DDP does.
  sync_->broadcast(net_.params().state(), net_.params().state_count());
}

bool Trainer::validate_epoch(int epoch, EpochMetrics& m) {
  if (!validation_ || validation_->size() == 0) return true;
  EvalResult v = evaluate(net_, model_.mode, *validation_, config_.batch_size);
  m.val_samples = v.count;
  m.val_loss = v.loss;
  m.val_accuracy = v.accuracy;
  if (std::isfinite(v.loss)) return true;
  divergence_ = "validation loss is " + std::to_string(v.loss) + " after epoch " + std::to_string(epoch + 1) +
                " (learning rate " + std::to_string(m.lr) + ")";
  return false;
}

// Before the evaluation: precise statistics when asked for, else a warning (once per run) while
// the momentum's statistics still hold mostly their initial values.
void Trainer::settle_batchnorm_statistics(int epoch, long steps_done, EpochMetrics& m) {
  if (config_.bn_recalibrate > 0) {
    m.bn_recalibrate = recalibrate_batchnorm(net_, train_, loader_options(), epoch, config_.bn_recalibrate, sync_);
    return;
  }
  if (warned_initial_statistics_) return;
  const std::string warning = initial_statistics_warning(net_, steps_done, kBatchNormMomentum);
  if (warning.empty()) return;
  std::printf("%s\n", warning.c_str());
  std::fflush(stdout);
  warned_initial_statistics_ = true;
}

TrainStatus Trainer::run(const std::function<void(const EpochMetrics&)>& on_epoch) {
  auto step = make_training_step(net_, *sgd_, model_.mode, sync_, sync_batchnorm_, config_.cuda_graphs);
  Loader loader(train_, loader_options());
  const long replays_before = graph_replays_;
  auto finish = [&](TrainStatus status) {
    graph_replays_ = replays_before + step->graph_replays();
    return status;
  };
  for (int epoch = epochs_done_; epoch < config_.epochs; ++epoch) {
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.epochs = config_.epochs;
    if (!train_epoch(*step, loader, epoch, m)) return finish(TrainStatus::Diverged);
    settle_batchnorm_statistics(epoch, long(loader.batches_per_epoch()) * (epoch + 1), m);
    if (!validate_epoch(epoch, m)) return finish(TrainStatus::Diverged);
    m.peak_memory_mb = peak_memory_mb();
    epochs_done_ = epoch + 1;
    finish(TrainStatus::Completed);
    on_epoch(m);  // report, checkpoint
  }
  return finish(TrainStatus::Completed);
}

}  // namespace dasnet
