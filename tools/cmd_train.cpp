// dasnet train: train a ResNet classifier, one checkpoint per epoch, metrics as JSON lines.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/resnet.h"
#include "engine/trainer.h"
#include "io/checkpoint.h"
#include "io/reference_set.h"
#include "tools/commands.h"
#include "tools/dist_flags.h"
#include "tools/flag_checks.h"
#include "tools/run_options.h"

namespace dasnet {

namespace {

struct TrainCommand {
  ModelOptions model;
  BackendOptions backend;
  DataOptions data;
  TrainConfig train;
  std::string schedule = "constant";
  DistributedFlags dist;
  std::string lr_scaling;  // empty: "none", or the checkpoint's when resuming
  std::string metrics_path, checkpoint_dir, resume_path, reference_path;
  bool no_progress = false, no_recompute = false, sync_batchnorm = false, no_cuda_graphs = false;
  CLI::Option* epochs_option = nullptr;
  const CLI::App* command = nullptr;  // the train subcommand, to ask which flags were given

  void run() {
    auto comm = dist.connect(backend.backend);
    if (comm->size() == 1) return run_training(*comm);
    try {
      run_training(*comm);
    } catch (const std::exception& e) {
      // One rank failing alone would leave the others waiting in a collective: stop them all.
      comm->abort(e.what());
    }
  }

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
      throw UsageError(std::string(flag) + given + " contradicts --resume " + resume_path + ", which holds " + stored +
                       ": a resumed training keeps the checkpoint's model and optimizer (leave the flag out)");
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
    check("--batch-size", train.batch_size != t.batch_size, std::to_string(t.batch_size));
    check("--seed", train.seed != t.seed, std::to_string(t.seed));
    const OptimizerConfig &given = train.optimizer, &o = t.optimizer;
    check("--lr", given.lr != o.lr, text(o.lr));
    check("--momentum", given.momentum != o.momentum, text(o.momentum));
    check("--weight-decay", given.weight_decay != o.weight_decay, text(o.weight_decay));
    check("--nesterov", given.nesterov != o.nesterov, o.nesterov ? "Nesterov momentum" : "plain momentum");
    check("--schedule", parse_schedule(schedule) != o.schedule, schedule_name(o.schedule));
    check("--step-size", given.step_size != o.step_size, std::to_string(o.step_size));
    check("--gamma", given.gamma != o.gamma, text(o.gamma));
    check("--warmup-epochs", given.warmup_epochs != o.warmup_epochs, std::to_string(o.warmup_epochs));
  }

  void run_training(Communicator& comm) {
    // Only rank 0 prints, writes metrics and checkpoints.
    const bool leader = comm.rank() == 0;
    if (!leader && !std::freopen("/dev/null", "w", stdout)) throw std::runtime_error("cannot silence stdout");
    ModelConfig model_config = model.resolve();
    TrainingState resumed;
    if (!resume_path.empty()) {
      resumed = load_checkpoint(resume_path);
      refuse_flags_the_checkpoint_contradicts(resumed);
      model_config = resumed.model;
      int epochs = train.epochs;
      bool progress = train.progress;
      train = resumed.train;
      if (epochs_option->count() > 0) train.epochs = epochs;
      train.progress = progress;
      if (resumed.epochs_done >= train.epochs)
        throw UsageError("--resume " + resume_path + ": already trained " + std::to_string(resumed.epochs_done) +
                         " of " + std::to_string(train.epochs) + " epochs (raise --epochs to continue)");
    } else {
      train.optimizer.schedule = parse_schedule(schedule);
    }
    train.progress = !no_progress && leader;
    train.cuda_graphs = !no_cuda_graphs;
    if (!lr_scaling.empty()) {
      if (lr_scaling != "none" && lr_scaling != "linear")
        throw UsageError("--lr-scaling: expected none or linear, got '" + lr_scaling + "'");
      train.linear_lr_scaling = lr_scaling == "linear";
    }
    train.validate();

    auto backend_impl = backend.create();
    comm.set_compute_stream(backend_impl->native_stream());
    auto train_set = data.open("train", model_config);
    auto val_set = data.open("val", model_config);
    if (!data.path.empty() && resume_path.empty()) {
      // The data set fixes the image shape.
      Shape s = train_set->sample_shape();
      model_config.in_channels = s.c;
      model_config.height = s.h;
      model_config.image_width = s.w;
      model_config.validate();
    }
    std::vector<ReferenceImage> references;
    std::vector<float> reference_images;
    if (!reference_path.empty()) {
      references = load_reference_set(reference_path);
      for (const auto& r : references) {
        if (r.shape != train_set->sample_shape())
          throw UsageError("--reference " + reference_path + ": image '" + r.name + "' is " + r.shape.str() +
                           ", training images are " + train_set->sample_shape().str());
        reference_images.insert(reference_images.end(), r.image.begin(), r.image.end());
      }
    }
    auto net = build_resnet(model_config, *backend_impl, train.seed);
    net->set_recompute(!no_recompute);
    Trainer trainer(*net, model_config, train, *train_set, val_set.get());
    if (!resume_path.empty()) trainer.restore(resumed);
    DataParallelSync sync(comm, net->params().grads(), net->params().parameter_count(), dist.sync_options());
    // One NCCL rank still reduces through NCCL: the same device path as p ranks, checkable on one GPU.
    const bool data_parallel = comm.size() > 1 || comm.name() == "nccl";
    if (data_parallel) trainer.set_gradient_sync(&sync, sync_batchnorm);

    std::printf("dasnet train: ResNet-%d (%s blocks, width %d), %zu parameters, %d x %d x %d input, K = %d (%s)\n",
                model_config.depth, block_type_name(model_config.block).c_str(), model_config.width,
                net->params().parameter_count(), model_config.in_channels, model_config.height,
                model_config.image_width, model_config.outputs, output_mode_name(model_config.mode).c_str());
    std::printf("data: %s: %zu training, %zu validation images\n", data.describe().c_str(), train_set->size(),
                val_set->size());
    std::printf("backend %s, %d threads; batch %d, lr %g, momentum %g, %s schedule, epochs %d..%d\n",
                backend_impl->describe().c_str(), omp_get_max_threads(), train.batch_size, train.optimizer.lr,
                train.optimizer.momentum, schedule_name(train.optimizer.schedule).c_str(), trainer.epochs_done() + 1,
                train.epochs);
    if (data_parallel)
      std::printf("data parallel: %s; global batch %d x %d = %d, lr %g (%s scaling), bucket %d KiB, %s batchnorm\n",
                  comm.describe().c_str(), train.batch_size, comm.size(), train.batch_size * comm.size(),
                  train.optimizer.lr * (train.linear_lr_scaling ? comm.size() : 1),
                  train.linear_lr_scaling ? "linear" : "no", dist.bucket_kb,
                  sync_batchnorm ? "synchronized" : "per-rank");
    std::fflush(stdout);

    std::ofstream metrics;
    if (!metrics_path.empty() && leader) {
      metrics.open(metrics_path, std::ios::app);
      if (!metrics) throw UsageError("--metrics " + metrics_path + ": cannot open for writing");
    }
    if (!checkpoint_dir.empty() && leader) std::filesystem::create_directories(checkpoint_dir);

    EpochMetrics last;
    TrainStatus status = trainer.run([&](const EpochMetrics& epoch_metrics) {
      EpochMetrics m = epoch_metrics;
      std::string line;
      if (!references.empty()) {
        auto p = predict_p_usable(*net, model_config.mode, reference_images.data(), int(references.size()));
        line = "  P(usable):";
        for (size_t i = 0; i < references.size(); ++i) {
          m.p_usable.push_back({references[i].name, p[i]});
          char item[96];
          std::snprintf(item, sizeof item, " %s %.3f%s", references[i].name.c_str(), p[i],
                        references[i].accepts(p[i]) ? "" : "*");
          line += item;
        }
        line += "  (* outside the expected range)\n";
      }
      last = m;
      std::printf("epoch %3d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  %.1f samples/s  %.1f s  peak %.0f MB\n",
                  m.epoch, m.epochs, m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, m.samples_per_s,
                  m.epoch_seconds, m.peak_memory_mb);
      std::fputs(line.c_str(), stdout);
      std::fflush(stdout);
      if (metrics.is_open()) {
        metrics << m.to_json() << "\n";
        metrics.flush();
      }
      if (!checkpoint_dir.empty() && leader) {
        char name[32];
        std::snprintf(name, sizeof name, "epoch_%04d.h5", m.epoch);
        save_checkpoint((std::filesystem::path(checkpoint_dir) / name).string(), trainer.snapshot());
      }
    });
    if (status == TrainStatus::Diverged) throw std::runtime_error("training diverged: " + trainer.divergence());
    std::printf("final: train accuracy %.4f, validation accuracy %.4f after %d epochs\n", last.train_accuracy,
                last.val_accuracy, trainer.epochs_done());
    if (trainer.cuda_graph_replays() > 0)
      std::printf("CUDA graphs: %ld training steps replayed as one graph each\n", trainer.cuda_graph_replays());
  }
};

}  // namespace

void add_train_command(CLI::App& app) {
  auto cmd = std::make_shared<TrainCommand>();
  CLI::App* sub = app.add_subcommand("train", "Train a ResNet classifier of usable energy");
  cmd->command = sub;
  cmd->model.add_to(sub);
  cmd->backend.add_to(sub);
  cmd->data.add_to(sub);
  auto& t = cmd->train;
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
  sub->add_option("--schedule", cmd->schedule, "Learning-rate schedule: constant, step or cosine")->capture_default_str();
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
  sub->add_option("--metrics", cmd->metrics_path, "Append per-epoch metrics as JSON lines to this file");
  sub->add_option("--checkpoint-dir", cmd->checkpoint_dir, "Write a checkpoint per epoch here (epoch_NNNN.h5)");
  sub->add_option("--resume", cmd->resume_path,
                  "Continue from this checkpoint (bit-exact on the same machine); its model, optimizer, batch size and "
                  "seed are kept: flags that contradict them are refused");
  sub->add_option("--reference", cmd->reference_path,
                  "Reference set file (dasnet dataset reference): report P(usable) of each image after every epoch");
  sub->add_option("--lr-scaling", cmd->lr_scaling,
                  "Data-parallel learning rate: none (the study's) or linear (lr x ranks; pair with --warmup-epochs)");
  cmd->dist.add_to(sub);
  sub->add_flag("--sync-bn", cmd->sync_batchnorm,
                "Data-parallel: batchnorm statistics over the global batch of all ranks (PyTorch's SyncBatchNorm)");
  sub->add_flag("--no-progress", cmd->no_progress, "No live progress line");
  sub->add_flag("--no-recompute", cmd->no_recompute, "Keep BN+ReLU outputs instead of recomputing them in backward");
  sub->add_flag("--no-cuda-graphs", cmd->no_cuda_graphs,
                "--backend cuda: launch every kernel of a step instead of replaying the step as one CUDA graph "
                "(graphs are used for one-process training)");
  sub->callback([cmd] { cmd->run(); });
}

}  // namespace dasnet
