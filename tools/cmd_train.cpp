// dasnet train: train a ResNet classifier, one checkpoint per epoch, metrics as JSON lines
// (train/training_job.h does the work).
#include "tools/commands.h"
#include "tools/dist_flags.h"
#include "tools/run_options.h"
#include "train/training_job.h"

namespace dasnet {

namespace {

struct TrainCommand {
  TrainingJob job;
  ModelOptions model;
  BackendOptions backend;
  DataOptions data;
  DistributedFlags dist;
  bool no_progress = false, no_recompute = false, no_cuda_graphs = false;
  CLI::Option* epochs_option = nullptr;

  void run() {
    job.model = model.resolve();
    job.epochs_given = epochs_option->count() > 0;
    job.train.progress = !no_progress;
    job.train.cuda_graphs = !no_cuda_graphs;
    job.recompute = !no_recompute;
    job.sync = dist.sync_options();
    job.make_backend = [this] { return backend.create(); };
    job.open_data = [this](const std::string& split, const ModelConfig& m) { return data.open(split, m); };
    job.data_description = data.describe();
    job.data_path = data.path;
    job.data_fixes_shape = !data.path.empty();
    auto comm = dist.connect(backend.backend);
    run_training_job(job, *comm);
  }
};

}  // namespace

void add_train_command(CLI::App& app) {
  auto cmd = std::make_shared<TrainCommand>();
  CLI::App* sub = app.add_subcommand("train", "Train a ResNet classifier of usable energy");
  cmd->model.add_to(sub);
  cmd->backend.add_to(sub);
  cmd->data.add_to(sub);
  auto& t = cmd->job.train;
  cmd->epochs_option = sub->add_option("--epochs", t.epochs, "Epochs to train")->capture_default_str();
  sub->add_option("--batch-size,-b", t.batch_size, "Images per step (per rank)")->capture_default_str();
  sub->add_option("--lr", t.optimizer.lr, "Learning rate")->capture_default_str();
  sub->add_option("--momentum", t.optimizer.momentum, "SGD momentum")->capture_default_str();
  sub->add_option("--weight-decay", t.optimizer.weight_decay, "L2 weight decay (not on batchnorm parameters)")
      ->capture_default_str();
  sub->add_flag("--nesterov", t.optimizer.nesterov, "Nesterov momentum");
  sub->add_option("--schedule", cmd->job.schedule, "Learning-rate schedule: constant, step or cosine")->capture_default_str();
  sub->add_option("--step-size", t.optimizer.step_size, "Step schedule: epochs between decays")->capture_default_str();
  sub->add_option("--gamma", t.optimizer.gamma, "Step schedule: decay factor")->capture_default_str();
  sub->add_option("--warmup-epochs", t.optimizer.warmup_epochs, "Linear learning-rate warm-up epochs")
      ->capture_default_str();
  sub->add_option("--seed", t.seed, "Seed of initialization and shuffling")->capture_default_str();
  sub->add_option("--metrics", cmd->job.metrics_path, "Append per-epoch metrics as JSON lines to this file");
  sub->add_option("--checkpoint-dir", cmd->job.checkpoint_dir, "Write a checkpoint per epoch here (epoch_NNNN.h5)");
  sub->add_option("--resume", cmd->job.resume_path, "Continue from this checkpoint (bit-exact on the same machine)");
  sub->add_option("--reference", cmd->job.reference_path,
                  "Reference set file (dasnet dataset reference): report P(usable) of each image after every epoch");
  sub->add_option("--lr-scaling", cmd->job.lr_scaling,
                  "Data-parallel learning rate: none (the study's) or linear (lr x ranks; pair with --warmup-epochs)");
  cmd->dist.add_to(sub);
  sub->add_flag("--sync-bn", cmd->job.sync_batchnorm,
                "Data-parallel: batchnorm statistics over the global batch of all ranks (PyTorch's SyncBatchNorm)");
  sub->add_flag("--no-progress", cmd->no_progress, "No live progress line");
  sub->add_flag("--no-recompute", cmd->no_recompute, "Keep BN+ReLU outputs instead of recomputing them in backward");
  sub->add_flag("--no-cuda-graphs", cmd->no_cuda_graphs,
                "--backend cuda: launch every kernel of a step instead of replaying the step as one CUDA graph "
                "(graphs are used for one-process training)");
  sub->callback([cmd] { cmd->run(); });
}

}  // namespace dasnet
