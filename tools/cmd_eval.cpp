// dasnet eval and dasnet predict: apply a checkpoint to a data set split.
#include <cstdio>
#include <fstream>

#include "core/usage_error.h"
#include "io/checkpoint.h"
#include "io/durable_file.h"
#include "models/resnet.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/run_options.h"
#include "train/trainer.h"

namespace dasnet {

namespace {

struct ApplyCommand {
  std::string checkpoint, split = "val", output;
  int batch_size = 128;
  BackendOptions backend;
  DataOptions data;

  void add_to(CLI::App* sub) {
    sub->add_option("--checkpoint,-c", checkpoint, "Checkpoint written by dasnet train")->required();
    sub->add_option("--split", split, "Data set split: train, val or test")->capture_default_str();
    sub->add_option("--batch-size,-b", batch_size, "Images per forward pass")
        ->capture_default_str()
        ->check(flag_checks::positive);
    backend.add_to(sub);
    data.add_to(sub);
  }

  EvalResult apply(ModelConfig& model, bool keep_probabilities) {
    if (split != "train" && split != "val" && split != "test")
      throw UsageError("--split must be train, val or test, got '" + split + "'");
    if (batch_size <= 0) throw UsageError("--batch-size must be positive, got " + std::to_string(batch_size));
    TrainingState state = load_checkpoint(checkpoint);
    model = state.model;
    auto impl = backend.create();
    auto net = build_resnet(model, *impl, 0);
    load_weights(*net, state);
    auto set = data.open(split, model);
    if (set->sample_shape() != net->sample_shape())
      throw UsageError("images of " + data.describe() + " are " + set->sample_shape().str() + ", the checkpoint's model expects " +
                       net->sample_shape().str());
    return evaluate(*net, model.mode, *set, batch_size, keep_probabilities);
  }
};

}  // namespace

void add_eval_command(CLI::App& app) {
  auto cmd = std::make_shared<ApplyCommand>();
  CLI::App* sub = app.add_subcommand("eval", "Loss, accuracy and confusion matrix of a checkpoint on a data set");
  cmd->add_to(sub);
  sub->callback([cmd] {
    ModelConfig model;
    EvalResult r = cmd->apply(model, false);
    std::printf("%s split of %s: %ld images, loss %.4f, accuracy %.4f\n", cmd->split.c_str(),
                cmd->data.describe().c_str(), r.count, r.loss, r.accuracy);
    if (!r.confusion.empty()) {
      std::printf("confusion (rows: true class, columns: predicted)\n");
      for (int t = 0; t < r.classes; ++t) {
        std::printf("  class %d:", t);
        for (int p = 0; p < r.classes; ++p) std::printf(" %8ld", r.confusion[size_t(t) * r.classes + p]);
        std::printf("\n");
      }
    }
  });
}

void add_predict_command(CLI::App& app) {
  auto cmd = std::make_shared<ApplyCommand>();
  CLI::App* sub = app.add_subcommand("predict", "Per-image probabilities (P(usable)) of a checkpoint, as CSV");
  cmd->add_to(sub);
  sub->add_option("--output,-o", cmd->output, "CSV file (default: standard output)");
  sub->callback([cmd] {
    ModelConfig model;
    EvalResult r = cmd->apply(model, true);
    std::ofstream file;
    if (!cmd->output.empty()) {
      require_output_not_input(cmd->output, {cmd->checkpoint, cmd->data.path}, "--output");
      file.open(cmd->output);
      if (!file) throw UsageError("--output " + cmd->output + ": cannot open for writing");
    }
    std::ostream& out = cmd->output.empty() ? std::cout : file;
    const int k = model.outputs;
    out << "index,label";
    for (int j = 0; j < k; ++j) out << ",p" << j;
    out << ",p_usable\n";
    for (long i = 0; i < r.count; ++i) {
      const float* p = &r.probabilities[size_t(i) * k];
      out << i << "," << r.labels[i];
      for (int j = 0; j < k; ++j) out << "," << p[j];
      // P(usable): the sigmoid output (K = 1) or the probability of class 1 (waves).
      out << "," << (k == 1 ? p[0] : p[1]) << "\n";
    }
  });
}

}  // namespace dasnet
