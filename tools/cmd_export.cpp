// dasnet export CHECKPOINT -o model.onnx | model.pt, and dasnet import model.pt -o ck.h5: models
// in and out of dasnet. ONNX is written by export/onnx_export.h; PyTorch state_dict files are
// written and read by export/torch_file.h (no PyTorch needed).
#include <cstdio>
#include <filesystem>

#include "core/usage_error.h"
#include "export/onnx_export.h"
#include "export/state_dict.h"
#include "export/torch_file.h"
#include "io/checkpoint.h"
#include "io/durable_file.h"
#include "io/input_path.h"
#include "tools/commands.h"

namespace dasnet {

namespace {

std::string extension(const std::string& path) { return std::filesystem::path(path).extension().string(); }

std::string describe(const ModelConfig& m) {
  return "ResNet-" + std::to_string(m.depth) + " (" + block_type_name(m.block) + " blocks, width " +
         std::to_string(m.width) + "), " + std::to_string(m.in_channels) + " x " + std::to_string(m.height) + " x " +
         std::to_string(m.image_width) + " input, K = " + std::to_string(m.outputs) + " (" +
         output_mode_name(m.mode) + ")";
}

struct ExportCommand {
  std::string checkpoint, output;
  void run() const {
    const bool onnx = extension(output) == ".onnx", torch = extension(output) == ".pt" || extension(output) == ".pth";
    if (!onnx && !torch) throw UsageError("--output " + output + ": expected a .onnx, .pt or .pth file name");
    require_output_not_input(output, {checkpoint}, "--output");
    const TrainingState state = load_checkpoint(checkpoint);
    if (onnx) export_onnx(state, output, checkpoint);
    else write_torch_state_dict(checkpoint_state_dict(state), output);
    std::printf("wrote %s: %s, from %s\n", output.c_str(), describe(state.model).c_str(), checkpoint.c_str());
  }
};

struct ImportCommand {
  std::string input, output, output_mode = "auto";
  int height = ModelConfig().height, width = ModelConfig().image_width;
  void run() const {
    if (extension(output) != ".h5") throw UsageError("--output " + output + ": expected a .h5 checkpoint file name");
    if (height <= 0 || width <= 0) throw UsageError("--image-height and --image-width must be positive");
    require_output_not_input(output, {input}, "--output");
    require_input_path(input);
    const StateDict tensors = read_torch_state_dict(input);
    const ModelConfig model = model_config_from_state_dict(tensors, height, width, output_mode, input);
    save_checkpoint(output, checkpoint_from_state_dict(tensors, model, input));
    std::printf("wrote %s: %s, from %s\n", output.c_str(), describe(model).c_str(), input.c_str());
  }
};

}  // namespace

void add_export_command(CLI::App& app) {
  auto cmd = std::make_shared<ExportCommand>();
  CLI::App* sub = app.add_subcommand("export", "Write a checkpoint as ONNX (.onnx) or a PyTorch state_dict (.pt)");
  sub->add_option("checkpoint", cmd->checkpoint, "Checkpoint written by dasnet train")->required();
  sub->add_option("--output,-o", cmd->output,
                  "model.onnx (inference graph: images -> logits, probabilities, p_usable) or model.pt "
                  "(state_dict of the study's PyTorch ResNet, tests/pytorch/resnet_torch.py)")
      ->required();
  sub->callback([cmd] { cmd->run(); });
}

void add_import_command(CLI::App& app) {
  auto cmd = std::make_shared<ImportCommand>();
  CLI::App* sub = app.add_subcommand("import", "Make a checkpoint from a PyTorch state_dict of the study's ResNet");
  sub->add_option("model", cmd->input, "model.pt: torch.save(model.state_dict()) of the study's ResNet")->required();
  sub->add_option("--output,-o", cmd->output, "Checkpoint to write (.h5)")->required();
  sub->add_option("--image-height", cmd->height, "Image height (fiber channels) the model takes: not in a state_dict")
      ->capture_default_str();
  sub->add_option("--image-width", cmd->width, "Image width (time samples) the model takes: not in a state_dict")
      ->capture_default_str();
  sub->add_option("--output-mode", cmd->output_mode, "auto (K = 1 sigmoid, else softmax), sigmoid, softmax or multilabel")
      ->capture_default_str();
  sub->callback([cmd] { cmd->run(); });
}

}  // namespace dasnet
