#include "train/training_job.h"

#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/usage_error.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/durable_file.h"
#include "io/reference_set.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"

namespace dasnet {

namespace {

// Resuming: the checkpoint's model and training configuration, with --epochs (when given) and
// the progress setting of this run.
TrainingState resume(TrainingJob& job) {
  TrainingState resumed = load_checkpoint(job.resume_path);
  job.model = resumed.model;
  const int epochs = job.train.epochs;
  const bool progress = job.train.progress;
  const bool cuda_graphs = job.train.cuda_graphs;
  job.train = resumed.train;
  if (job.epochs_given) job.train.epochs = epochs;
  job.train.progress = progress;
  job.train.cuda_graphs = cuda_graphs;
  if (resumed.epochs_done >= job.train.epochs)
    throw UsageError("--resume " + job.resume_path + ": already trained " + std::to_string(resumed.epochs_done) +
                     " of " + std::to_string(job.train.epochs) + " epochs (raise --epochs to continue)");
  return resumed;
}

void apply_lr_scaling(TrainingJob& job) {
  if (job.lr_scaling.empty()) return;
  if (job.lr_scaling != "none" && job.lr_scaling != "linear")
    throw UsageError("--lr-scaling: expected none or linear, got '" + job.lr_scaling + "'");
  job.train.linear_lr_scaling = job.lr_scaling == "linear";
}

// The reference images, one batch of NCHW floats, after each epoch scored for P(usable).
struct References {
  std::vector<ReferenceImage> images;
  std::vector<float> batch;
};

References load_references(const std::string& path, const Shape& sample_shape) {
  References refs;
  if (path.empty()) return refs;
  refs.images = load_reference_set(path);
  for (const auto& r : refs.images) {
    if (r.shape != sample_shape)
      throw UsageError("--reference " + path + ": image '" + r.name + "' is " + r.shape.str() +
                       ", training images are " + sample_shape.str());
    refs.batch.insert(refs.batch.end(), r.image.begin(), r.image.end());
  }
  return refs;
}

void print_header(const TrainingJob& job, const Network& net, const Backend& backend, const DataSource& train_set,
                  const DataSource& val_set, int first_epoch, const Communicator* data_parallel) {
  const ModelConfig& m = job.model;
  const TrainConfig& t = job.train;
  std::printf("dasnet train: ResNet-%d (%s blocks, width %d), %zu parameters, %d x %d x %d input, K = %d (%s)\n",
              m.depth, block_type_name(m.block).c_str(), m.width, net.params().parameter_count(), m.in_channels,
              m.height, m.image_width, m.outputs, output_mode_name(m.mode).c_str());
  std::printf("data: %s: %zu training, %zu validation images\n", job.data_description.c_str(), train_set.size(),
              val_set.size());
  std::printf("backend %s, %d threads; batch %d, lr %g, momentum %g, %s schedule, epochs %d..%d\n",
              backend.describe().c_str(), omp_get_max_threads(), t.batch_size, t.optimizer.lr, t.optimizer.momentum,
              schedule_name(t.optimizer.schedule).c_str(), first_epoch, t.epochs);
  if (data_parallel) {
    const int ranks = data_parallel->size();
    std::printf("data parallel: %s; global batch %d x %d = %d, lr %g (%s scaling), bucket %zu KiB, %s batchnorm\n",
                data_parallel->describe().c_str(), t.batch_size, ranks, t.batch_size * ranks,
                t.optimizer.lr * (t.linear_lr_scaling ? ranks : 1), t.linear_lr_scaling ? "linear" : "no",
                job.sync.bucket_bytes / 1024, job.sync_batchnorm ? "synchronized" : "per-rank");
  }
  std::fflush(stdout);
}

// What happens after each epoch: the references scored, one line printed, the metrics line
// appended and the checkpoint written (the last two by rank 0 only).
class EpochReport {
 public:
  EpochReport(const TrainingJob& job, Network& net, const Trainer& trainer, References refs, bool leader)
      : job_(job), net_(net), trainer_(trainer), refs_(std::move(refs)), leader_(leader) {
    if (!job.metrics_path.empty() && leader) {
      require_output_not_input(job.metrics_path, inputs(), "--metrics");
      metrics_.open(job.metrics_path, std::ios::app);
      if (!metrics_) throw UsageError("--metrics " + job.metrics_path + ": cannot open for writing");
    }
    if (!job.checkpoint_dir.empty() && leader) {
      std::filesystem::create_directories(job.checkpoint_dir);
      remove_stale_temporaries(job.checkpoint_dir);  // checkpoint writes of killed trainings
    }
  }

  void operator()(const EpochMetrics& epoch_metrics) {
    EpochMetrics m = epoch_metrics;
    const std::string references = score_references(m);
    last_ = m;
    std::printf("epoch %3d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  %.1f samples/s  %.1f s  peak %.0f MB\n",
                m.epoch, m.epochs, m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, m.samples_per_s,
                m.epoch_seconds, m.peak_memory_mb);
    std::fputs(references.c_str(), stdout);
    std::fflush(stdout);
    if (metrics_.is_open()) {
      metrics_ << m.to_json() << "\n";
      metrics_.flush();
    }
    if (!job_.checkpoint_dir.empty() && leader_) {
      const std::string checkpoint = checkpoint_path(job_.checkpoint_dir, m.epoch);
      require_output_not_input(checkpoint, inputs(), "--checkpoint-dir");
      save_checkpoint(checkpoint, trainer_.snapshot());
    }
    if (job_.on_epoch && leader_) job_.on_epoch(m);
  }
  const EpochMetrics& last() const { return last_; }

 private:
  std::vector<std::string> inputs() const { return {job_.data_path, job_.resume_path, job_.reference_path}; }
  // P(usable) of each reference into m, and the line that shows them.
  std::string score_references(EpochMetrics& m) {
    if (refs_.images.empty()) return "";
    auto p = predict_p_usable(net_, job_.model.mode, refs_.batch.data(), int(refs_.images.size()));
    std::string line = "  P(usable):";
    for (size_t i = 0; i < refs_.images.size(); ++i) {
      m.p_usable.push_back({refs_.images[i].name, p[i]});
      char item[96];
      std::snprintf(item, sizeof item, " %s %.3f%s", refs_.images[i].name.c_str(), p[i],
                    refs_.images[i].accepts(p[i]) ? "" : "*");
      line += item;
    }
    return line + "  (* outside the expected range)\n";
  }

  const TrainingJob& job_;
  Network& net_;
  const Trainer& trainer_;
  References refs_;
  bool leader_;
  std::ofstream metrics_;
  EpochMetrics last_;
};

void train(TrainingJob& job, Communicator& comm) {
  // Only rank 0 prints, writes metrics and checkpoints.
  const bool leader = comm.rank() == 0;
  if (!leader && !std::freopen("/dev/null", "w", stdout)) throw std::runtime_error("cannot silence stdout");
  TrainingState resumed;
  if (!job.resume_path.empty()) resumed = resume(job);
  else job.train.optimizer.schedule = parse_schedule(job.schedule);
  job.train.progress = job.train.progress && leader;
  apply_lr_scaling(job);
  job.train.validate();

  auto backend = job.make_backend();
  comm.set_compute_stream(backend->native_stream());
  auto train_set = job.open_data("train", job.model);
  auto val_set = job.open_data("val", job.model);
  if (job.data_fixes_shape && job.resume_path.empty()) {
    const Shape s = train_set->sample_shape();
    job.model.in_channels = s.c;
    job.model.height = s.h;
    job.model.image_width = s.w;
    job.model.validate();
  }
  if (!job.data_path.empty())
    require_split_shapes(job.data_path, Shape{1, job.model.in_channels, job.model.height, job.model.image_width});
  References refs = load_references(job.reference_path, train_set->sample_shape());
  auto net = build_resnet(job.model, *backend, job.train.seed);
  net->set_recompute(job.recompute);
  Trainer trainer(*net, job.model, job.train, *train_set, val_set.get());
  if (!job.resume_path.empty()) trainer.restore(resumed);
  DataParallelSync sync(comm, net->params().grads(), net->params().parameter_count(), job.sync);
  // One NCCL rank still reduces through NCCL: the same device path as p ranks, checkable on one GPU.
  const bool data_parallel = comm.size() > 1 || comm.name() == "nccl";
  if (data_parallel) trainer.set_gradient_sync(&sync, job.sync_batchnorm);
  print_header(job, *net, *backend, *train_set, *val_set, trainer.epochs_done() + 1, data_parallel ? &comm : nullptr);

  EpochReport report(job, *net, trainer, std::move(refs), leader);
  const TrainStatus status = trainer.run([&](const EpochMetrics& m) { report(m); });
  if (status == TrainStatus::Diverged) throw std::runtime_error("training diverged: " + trainer.divergence());
  std::printf("final: train accuracy %.4f, validation accuracy %.4f after %d epochs\n", report.last().train_accuracy,
              report.last().val_accuracy, trainer.epochs_done());
  if (trainer.cuda_graph_replays() > 0)
    std::printf("CUDA graphs: %ld training steps replayed as one graph each\n", trainer.cuda_graph_replays());
}

}  // namespace

void run_training_job(TrainingJob job, Communicator& comm) {
  if (comm.size() == 1) return train(job, comm);
  try {
    train(job, comm);
  } catch (const std::exception& e) {
    // One rank failing alone would leave the others waiting in a collective: stop them all.
    comm.abort(e.what());
  }
}

}  // namespace dasnet
