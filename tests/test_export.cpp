// dasnet export (ONNX, PyTorch .pt) and dasnet import, end to end from the command: ONNX Runtime
// gives dasnet's P(usable) on a data set's test split; a .pt file is what Python's pickle and
// zipfile read (and torch.load, where installed); export -> import is identical; a state_dict of
// another architecture, or a pickle of anything else, is refused naming the tensor or object.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "export/state_dict.h"
#include "io/checkpoint.h"
#include "sweep_test_util.h"

namespace dasnet {
namespace {

using sweep_testing::dasnet;
using sweep_testing::read_text;
using CommandRun = sweep_testing::Run;

constexpr int kModuleMissing = 77;
const std::string kImageSize = "--image-height 16 --image-width 32";

CommandRun python(const std::string& script, const std::string& args, const std::string& dir) {
  const std::string log = dir + "/python_output.txt";
  const std::string command = "cd \"" + dir + "\" && python3 \"" + std::string(DASNET_SOURCE_DIR) + "/tests/export/" +
                              script + "\" " + args + " >\"" + log + "\" 2>&1";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

// A small data set and, trained when a test first asks for it, two models: a basic-block
// ResNet-8 with K = 2 (softmax) and a bottleneck ResNet-11 with K = 1 (sigmoid); batchnorm
// statistics recalibrated so they are the data's, not the initial 0 and 1. (ctest runs each test
// in its own process: each trains only the models it uses.)
class ExportImport : public ::testing::Test {
 protected:
  static std::string dir_;
  void SetUp() override {
#if !DASNET_HAVE_ONNX_EXPORT || !DASNET_HAVE_TORCH_FILES
    GTEST_SKIP() << "skipped: dasnet built without protobuf or libzip (export/import unavailable)";
#endif
  }
  static void SetUpTestSuite() {
    dir_ = sweep_testing::scratch_dir("export");
    ASSERT_EQ(dasnet("synth --channels 60 --duration 20 --vehicles 6 --seed 3 -o rec.h5 -q", dir_).code, 0);
    const CommandRun build = dasnet("dataset build rec.h5 -o ds.h5 --per-class 40 --patch-channels 16 --patch-samples 32 -q", dir_);
    ASSERT_EQ(build.code, 0) << build.out;
  }
  struct Model {
    std::string name, train_flags, torch_config;  // torch_config: depth block width in_channels K
    std::string checkpoint() const { return name + "/epoch_0001.h5"; }
  };
  static std::vector<Model> models() {
    return {{"basic", "--depth 8 --width 4", "8 basic 4 1 2"},
            {"bottleneck", "--depth 11 --block bottleneck --width 8 -K 1", "11 bottleneck 8 1 1"}};
  }
  // The model's checkpoint, trained on first use.
  static std::string trained(const Model& m) {
    if (!std::filesystem::exists(path(m.checkpoint()))) {
      const CommandRun train = dasnet("train " + m.train_flags + " --checkpoint-dir " + m.name +
                                          " --data ds.h5 --epochs 1 --batch-size 16 --bn-recalibrate 3 --no-progress",
                                      dir_);
      EXPECT_EQ(train.code, 0) << train.out;
    }
    return m.checkpoint();
  }
  static std::string path(const std::string& name) { return dir_ + "/" + name; }
  static std::string predictions(const std::string& checkpoint, const std::string& csv) {
    const CommandRun r = dasnet("predict -c " + checkpoint + " --data ds.h5 --split test -o " + csv, dir_);
    EXPECT_EQ(r.code, 0) << r.out;
    return read_text(path(csv));
  }
};
std::string ExportImport::dir_;

void expect_same_tensors(const TrainingState& a, const TrainingState& b) {
  EXPECT_EQ(a.model.to_json(), b.model.to_json());
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.batches_trained, b.batches_trained);
  ASSERT_EQ(a.parameter_layout.size(), b.parameter_layout.size());
  for (size_t i = 0; i < a.parameter_layout.size(); ++i) {
    EXPECT_EQ(a.parameter_layout[i].name, b.parameter_layout[i].name);
    EXPECT_EQ(a.parameter_layout[i].shape, b.parameter_layout[i].shape) << a.parameter_layout[i].name;
  }
}

// The tensors the stdlib reader of tests/export/torch_state_dict.py found, against `expected`.
void expect_same_as_json(const StateDict& expected, const nlohmann::json& read) {
  ASSERT_EQ(read.size(), expected.size());
  for (const NamedTensor& t : expected) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(read.contains(t.name));
    const auto& entry = read[t.name];
    EXPECT_EQ(entry["shape"].get<std::vector<size_t>>(), t.shape);
    EXPECT_EQ(entry["dtype"], t.is_int64 ? "int64" : "float32");
    if (t.is_int64) EXPECT_EQ(entry["values"], nlohmann::json::array({t.count}));
    else EXPECT_EQ(entry["values"].get<std::vector<float>>(), t.values);
  }
  EXPECT_GT(read["bn1.num_batches_tracked"]["values"][0].get<long>(), 0);
}

TEST_F(ExportImport, OnnxRuntimeGivesDasnetsPUsableOnTheTestSplit) {
  for (const Model& m : models()) {
    const std::string checkpoint = trained(m), onnx = m.name + ".onnx";
    const CommandRun r = dasnet("export " + checkpoint + " -o " + onnx, dir_);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("wrote " + onnx), std::string::npos) << r.out;
    predictions(checkpoint, "predicted.csv");
    const CommandRun check = python("onnx_agreement.py", onnx + " ds.h5 predicted.csv --split test --tolerance 1e-5", dir_);
    if (check.code == kModuleMissing) GTEST_SKIP() << check.out << " (pip install onnxruntime h5py: ONNX not checked)";
    EXPECT_EQ(check.code, 0) << m.name << ": " << check.out;
    std::printf("%s: %s", m.name.c_str(), check.out.c_str());
  }
}

// export -> import gives the same tensors and predictions; the .pt file is what Python's own
// pickle and zipfile read, tensor for tensor.
TEST_F(ExportImport, PtRoundTripGivesIdenticalTensorsAndPredictions) {
  for (const Model& m : models()) {
    const std::string checkpoint = trained(m);
    ASSERT_EQ(dasnet("export " + checkpoint + " -o " + m.name + ".pt", dir_).code, 0);
    const CommandRun r = dasnet("import " + m.name + ".pt -o " + m.name + "_back.h5 " + kImageSize, dir_);
    ASSERT_EQ(r.code, 0) << r.out;
    expect_same_tensors(load_checkpoint(path(checkpoint)), load_checkpoint(path(m.name + "_back.h5")));
    EXPECT_EQ(predictions(checkpoint, "original.csv"), predictions(m.name + "_back.h5", "imported.csv")) << m.name;

    const CommandRun read = python("torch_state_dict.py", "read " + m.name + ".pt read.json", dir_);
    ASSERT_EQ(read.code, 0) << read.out;
    expect_same_as_json(checkpoint_state_dict(load_checkpoint(path(checkpoint))),
                        nlohmann::json::parse(read_text(path("read.json"))));
  }
}

// A state_dict pickled by Python's pickler as torch.save does (_metadata, memoized globals, a
// strided tensor) imports to the same checkpoint.
TEST_F(ExportImport, ImportsAStateDictPickledAsTorchSaveDoes) {
  const std::string checkpoint = trained(models()[0]);
  ASSERT_EQ(dasnet("export " + checkpoint + " -o model.pt", dir_).code, 0);
  const CommandRun rewrite = python("torch_state_dict.py", "rewrite-stdlib model.pt resaved.pt", dir_);
  ASSERT_EQ(rewrite.code, 0) << rewrite.out;
  const CommandRun r = dasnet("import resaved.pt -o resaved.h5 " + kImageSize, dir_);
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_tensors(load_checkpoint(path(checkpoint)), load_checkpoint(path("resaved.h5")));
}

// With PyTorch installed: torch.load(weights_only=True) reads the export, load_state_dict(strict)
// puts it into the study's ResNet, whose eval-mode P(usable) is dasnet's; a torch.save of it
// imports back to the same checkpoint.
TEST_F(ExportImport, PyTorchLoadsTheExportAndItsTorchSaveImports) {
  for (const Model& m : models()) {
    const std::string checkpoint = trained(m);
    ASSERT_EQ(dasnet("export " + checkpoint + " -o torch.pt", dir_).code, 0);
    predictions(checkpoint, "predicted.csv");
    const CommandRun r = python("torch_state_dict.py",
                                "torch torch.pt " + std::string(DASNET_SOURCE_DIR) + "/tests/pytorch/resnet_torch.py " +
                                    m.torch_config + " ds.h5 predicted.csv",
                                dir_);
    if (r.code == kModuleMissing) GTEST_SKIP() << r.out;
    EXPECT_EQ(r.code, 0) << m.name << ": " << r.out;
    std::printf("%s: %s", m.name.c_str(), r.out.c_str());
    ASSERT_EQ(python("torch_state_dict.py", "rewrite torch.pt torch_saved.pt", dir_).code, 0);
    const CommandRun back = dasnet("import torch_saved.pt -o torch_saved.h5 " + kImageSize, dir_);
    ASSERT_EQ(back.code, 0) << back.out;
    expect_same_tensors(load_checkpoint(path(checkpoint)), load_checkpoint(path("torch_saved.h5")));
  }
}

TEST_F(ExportImport, WrongArchitectureIsRefusedNamingTheTensor) {
  ASSERT_EQ(dasnet("export " + trained(models()[0]) + " -o model.pt", dir_).code, 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--rename linear.weight=fc.weight", "no tensor 'linear.weight'"},
      {"--drop layer1.0.bn2.running_var", "missing tensor 'layer1.0.bn2.running_var' [4]"},
      {"--reshape layer2.0.conv1.weight", "tensor 'layer2.0.conv1.weight' is [576], a ResNet-8 (basic blocks, width 4) "
                                          "needs float32 [8, 4, 3, 3]"},
      {"--rename layer3.0.bn1.num_batches_tracked=layer3.0.bn1.extra", "tensor 'layer3.0.bn1.extra' [] is not part"},
  };
  for (const auto& [change, message] : cases) {
    const CommandRun rewrite = python("torch_state_dict.py", "rewrite-stdlib model.pt wrong.pt " + change, dir_);
    ASSERT_EQ(rewrite.code, 0) << rewrite.out;
    const CommandRun r = dasnet("import wrong.pt -o wrong.h5 " + kImageSize, dir_);
    EXPECT_EQ(r.code, 1) << change;
    EXPECT_NE(r.out.find("wrong.pt: " + message), std::string::npos) << change << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(path("wrong.h5"))) << change;
  }
}

TEST_F(ExportImport, BadFilesAndFlagsAreClearErrors) {
  // A pickle that would call os.system is refused, and nothing runs.
  ASSERT_EQ(python("torch_state_dict.py", "evil evil.pt", dir_).code, 0);
  CommandRun r = dasnet("import evil.pt -o evil.h5", dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("evil.pt (data.pkl): holds posix.system, not only tensors"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(path("pwned.txt")));
  sweep_testing::write_text(path("garbage.pt"), "not a zip archive");
  r = dasnet("import garbage.pt -o g.h5", dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("garbage.pt: not a zip archive"), std::string::npos) << r.out;
  r = dasnet("import missing.pt -o g.h5", dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing.pt: no such file"), std::string::npos) << r.out;
  r = dasnet("import garbage.pt -o g.txt", dir_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--output g.txt: expected a .h5"), std::string::npos) << r.out;
  r = dasnet("export garbage.pt -o model.txt", dir_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--output model.txt: expected a .onnx, .pt or .pth"), std::string::npos) << r.out;
  r = dasnet("export missing.h5 -o model.onnx", dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing.h5"), std::string::npos) << r.out;
  r = dasnet("export garbage.pt -o model.onnx", dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("garbage.pt"), std::string::npos) << r.out;
  EXPECT_EQ(dasnet("export missing.h5", dir_).code, 2);  // no -o
}

}  // namespace
}  // namespace dasnet
