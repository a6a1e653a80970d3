// dasnet train: train a ResNet classifier, one checkpoint per epoch, metrics as JSON lines
// (train/training_job.h does the work).
#include "core/usage_error.h"
#include "io/checkpoint.h"
#include "kernels/backend_factory.h"
#include "tools/commands.h"
#include "tools/dist_flags.h"
#include "tools/flag_checks.h"
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
  const CLI::App* command = nullptr;  // the train subcommand, to ask which flags were given

  // The checkpoint fixes the model and the optimizer. A flag given with --resume must agree with
  // it (the sweep repeats a trial's whole command line) or it is a usage error, never silently
  // ignored. --epochs (to train further), --lr-scaling, the data and the backend may change.
  void refuse_flags_the_checkpoint_contradicts(const TrainingState& checkpoint) const {
    const ModelConfig& m = checkpoint.model;
    const TrainConfig& t = checkpoint.train;
    auto check = [&](const char* flag, bool differs, const std::string& stored) {
      const CLI::Option* option = command->get_option(flag);
      if (option->count() == 0 || !differs) return;
      const std::string given = option->results().empty() ? "" : " " + option->results().front();
      throw UsageError(std::string(flag) + given + " contradicts --resume " + job.resume_path + ", which holds " +
                       stored + ": a resumed training keeps the checkpoint's model and optimizer (leave the flag out)");
    };
    auto text = [](double v) { return CLI::detail::to_string(v); };
    check("--depth", model.config.depth != m.depth, std::to_string(m.depth));
    check("--block", parse_block_type(model.block) != m.block, block_type_name(m.block));
    check("--width", model.config.width != m.width, std::to_string(m.width));
    check("--bottleneck-width", model.config.bottleneck_width != m.bottleneck_width,
          std::to_string(m.bottleneck_width));
    check("--channels", model.config.in_channels != m.in_channels, std::to_string(m.in_channels));
    check("--image-height", model.config.height != m.height, std::to_string(m.height));
    check("--image-width", model.config.image_width != m.image_width, std::to_string(m.image_width));
    check("--outputs", model.config.outputs != m.outputs, std::to_string(m.outputs));
    check("--output-mode", parse_output_mode(model.output_mode, m.outputs) != m.mode, output_mode_name(m.mode));
    check("--no-fuse", model.no_fuse == m.fuse, m.fuse ? "fused layers" : "unfused layers");
    const TrainConfig& train = job.train;
    check("--batch-size", train.batch_size != t.batch_size, std::to_string(t.batch_size));
    check("--seed", train.seed != t.seed, std::to_string(t.seed));
    check("--bn-recalibrate", train.bn_recalibrate != t.bn_recalibrate, std::to_string(t.bn_recalibrate));
    const OptimizerConfig &given = train.optimizer, &o = t.optimizer;
    check("--lr", given.lr != o.lr, text(o.lr));
    check("--momentum", given.momentum != o.momentum, text(o.momentum));
    check("--weight-decay", given.weight_decay != o.weight_decay, text(o.weight_decay));
    check("--nesterov", given.nesterov != o.nesterov, o.nesterov ? "Nesterov momentum" : "plain momentum");
    check("--schedule", parse_schedule(job.schedule) != o.schedule, schedule_name(o.schedule));
    check("--step-size", given.step_size != o.step_size, std::to_string(o.step_size));
    check("--gamma", given.gamma != o.gamma, text(o.gamma));
    check("--warmup-epochs", given.warmup_epochs != o.warmup_epochs, std::to_string(o.warmup_epochs));
  }

  void run() {
    if (!job.resume_path.empty()) refuse_flags_the_checkpoint_contradicts(load_checkpoint(job.resume_path));
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

void add_train_command(CLI::App& app, std::function<void(const EpochMetrics&)> on_epoch) {
  auto cmd = std::make_shared<TrainCommand>();
  cmd->job.on_epoch = std::move(on_epoch);
  CLI::App* sub = app.add_subcommand("train", "Train a ResNet classifier of usable energy");
  cmd->command = sub;
  cmd->model.add_to(sub);
  cmd->backend.add_to(sub);
  cmd->data.add_to(sub);
  auto& t = cmd->job.train;
  cmd->epochs_option =
      sub->add_option("--epochs", t.epochs, "Epochs to train")->capture_default_str()->check(flag_checks::positive);
  sub->add_option("--batch-size,-b", t.batch_size, "Images per step (per rank)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--lr", t.optimizer.lr, "Learning rate")->capture_default_str()->check(flag_checks::positive);
  sub->add_option("--momentum", t.optimizer.momentum, "SGD momentum")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->add_option("--weight-decay", t.optimizer.weight_decay, "L2 weight decay (not on batchnorm parameters)")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->add_flag("--nesterov", t.optimizer.nesterov, "Nesterov momentum");
  sub->add_option("--schedule", cmd->job.schedule, "Learning-rate schedule: constant, step or cosine")
      ->capture_default_str();
  sub->add_option("--step-size", t.optimizer.step_size, "Step schedule: epochs between decays")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--gamma", t.optimizer.gamma, "Step schedule: decay factor")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--warmup-epochs", t.optimizer.warmup_epochs, "Linear learning-rate warm-up epochs")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->add_option("--seed", t.seed, "Seed of initialization and shuffling")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->add_option("--bn-recalibrate", t.bn_recalibrate,
                  "Before each evaluation, recompute the batchnorm statistics over N training batches with the "
                  "current weights (precise batchnorm); 0: PyTorch's momentum statistics, as the study")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->add_option("--metrics", cmd->job.metrics_path, "Append per-epoch metrics as JSON lines to this file");
  sub->add_option("--checkpoint-dir", cmd->job.checkpoint_dir, "Write a checkpoint per epoch here (epoch_NNNN.h5)");
  sub->add_option("--resume", cmd->job.resume_path,
                  "Continue from this checkpoint (bit-exact on the same machine); its model, optimizer, batch size and "
                  "seed are kept: flags that contradict them are refused");
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
