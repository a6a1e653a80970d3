// The checkpoint format (io/checkpoint.h): version 2 stores one data set per tensor under
// PyTorch's name and shape, with num_batches_tracked per batchnorm and the configuration as
// attributes; version 1 files (flat arrays) still load. tests/checkpoints/format_v1_depth2_16x16.h5
// was written by dasnet before the change: `dasnet train --depth 2 --synthetic-per-class 8
// --image-height 16 --image-width 16 --epochs 1 --checkpoint-dir ck`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io/hdf5_util.h"
#include "io/synthetic_images.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"
#include "train/trainer.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;

std::string scratch_file(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / ("dasnet_ckformat_" + std::to_string(getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

// One epoch of a depth-8 network on 64 synthetic images in batches of 16: 4 training steps.
TrainingState trained_depth8() {
  ModelConfig model;
  model.depth = 8;
  model.height = model.image_width = 16;
  TrainConfig train;
  train.epochs = 1;
  train.batch_size = 16;
  train.progress = false;
  SyntheticImages data(64, {1, 1, 16, 16}, 3);
  auto backend = make_backend(BackendKind::Cpu);
  auto net = build_resnet(model, *backend, 5);
  Trainer trainer(*net, model, train, data, nullptr);
  trainer.run([](const EpochMetrics&) {});
  return trainer.snapshot();
}

std::vector<hsize_t> shape_of(const h5::File& file, const std::string& name) {
  EXPECT_TRUE(file.is_dataset(name)) << name;
  return file.is_dataset(name) ? file.dataset(name).shape() : std::vector<hsize_t>{};
}

TEST(CheckpointFormat, OneDataSetPerTensorUnderPyTorchNames) {
  const TrainingState s = trained_depth8();
  const std::string path = scratch_file("v2.h5");
  save_checkpoint(path, s);
  h5::silence_errors();
  const h5::File file(path);
  const h5::Node root = file.group("/");
  EXPECT_EQ(root.attr_int64("format_version"), 2);
  EXPECT_EQ(root.attr_int64("batches_trained"), 4);
  EXPECT_NE(root.attr_string("model_config").find("\"depth\":8"), std::string::npos) << root.attr_string("model_config");
  EXPECT_TRUE(root.has_attr("train_config"));
  using Dims = std::vector<hsize_t>;
  EXPECT_EQ(shape_of(file, "model/conv1.weight"), (Dims{16, 1, 3, 3}));
  EXPECT_EQ(shape_of(file, "model/bn1.running_mean"), (Dims{16}));
  EXPECT_EQ(shape_of(file, "model/layer2.0.shortcut.0.weight"), (Dims{32, 16, 1, 1}));
  EXPECT_EQ(shape_of(file, "model/layer3.0.bn2.running_var"), (Dims{64}));
  EXPECT_EQ(shape_of(file, "model/linear.weight"), (Dims{2, 64}));
  EXPECT_EQ(shape_of(file, "model/linear.bias"), (Dims{2}));
  EXPECT_EQ(shape_of(file, "optimizer/velocity/conv1.weight"), (Dims{16, 1, 3, 3}));
  // PyTorch's BatchNorm2d buffer, a 0-d int64 tensor: the number of training batches.
  ASSERT_TRUE(file.is_dataset("model/bn1.num_batches_tracked"));
  const h5::Node tracked = file.dataset("model/layer1.0.bn2.num_batches_tracked");
  EXPECT_TRUE(tracked.shape().empty()) << "a scalar";
  EXPECT_EQ(tracked.element_type(), "int64");
  EXPECT_EQ(tracked.scalar_number(), 4);
  // Every tensor once: parameters, running statistics and one counter per batchnorm.
  size_t batchnorms = 0;
  for (const NamedShape& t : s.state_layout) batchnorms += t.name.find(".running_mean") != std::string::npos;
  EXPECT_EQ(file.children("model").size(), s.parameter_layout.size() + s.state_layout.size() + batchnorms);
  EXPECT_EQ(file.dataset("model/conv1.weight").element_type(), "float32");

  const TrainingState r = load_checkpoint(path);
  EXPECT_EQ(r.params, s.params);
  EXPECT_EQ(r.state, s.state);
  EXPECT_EQ(r.velocity, s.velocity);
  EXPECT_EQ(r.batches_trained, 4);
  ASSERT_EQ(r.parameter_layout.size(), s.parameter_layout.size());
  for (size_t i = 0; i < r.parameter_layout.size(); ++i) {
    EXPECT_EQ(r.parameter_layout[i].name, s.parameter_layout[i].name);
    EXPECT_EQ(r.parameter_layout[i].shape, s.parameter_layout[i].shape) << r.parameter_layout[i].name;
  }
}

TEST(CheckpointFormat, ReadsVersionOneCheckpoints) {
  const std::string fixture = std::string(DASNET_SOURCE_DIR) + "/tests/checkpoints/format_v1_depth2_16x16.h5";
  const TrainingState s = load_checkpoint(fixture);
  EXPECT_EQ(s.model.depth, 2);
  EXPECT_EQ(s.epochs_done, 1);
  auto backend = make_backend(BackendKind::Reference);
  auto net = build_resnet(s.model, *backend, 0);
  ASSERT_EQ(s.params.size(), net->params().parameter_count());
  ASSERT_EQ(s.state.size(), net->params().state_count());
  EXPECT_EQ(s.velocity.size(), s.params.size());
  load_weights(*net, s);  // the flat arrays are the engine's layout
}

// Found by fuzz_dasnet_files: model/linear.weight's layout message was mutated to compact with
// 0 bytes. libhdf5 1.10.8 does not check that against the shape and copies 128 bytes from NULL
// in H5Dread (SIGSEGV); the reader must refuse the file first, naming the dataset.
TEST(CheckpointFormat, CompactStorageShorterThanItsShapeIsRefused) {
  const std::string file =
      std::string(DASNET_SOURCE_DIR) + "/tests/fuzz/known_crashes/checkpoint_compact_storage_shorter_than_shape.h5";
  try {
    load_checkpoint(file);
    FAIL() << "loaded a checkpoint whose model/linear.weight has no stored bytes";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model/linear.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("compact storage holds 0 bytes where its shape needs 32 values of 4 bytes"), std::string::npos) << what;
  }
}

// Found by fuzz_dasnet_files: a dataspace mutated to claim 2.8e19 bytes, more than a 64-bit
// count holds; the message that refuses it must not overflow either (UBSan caught the cast).
TEST(CheckpointFormat, ShapeNeedingMoreBytesThanA64BitCountIsRefused) {
  const std::string file =
      std::string(DASNET_SOURCE_DIR) + "/tests/fuzz/known_crashes/checkpoint_shape_needs_more_bytes_than_2_to_64.h5";
  try {
    load_checkpoint(file);
    FAIL() << "loaded a checkpoint whose dataset claims more bytes than a 64-bit count holds";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("where its shape needs"), std::string::npos) << e.what();
  }
}

TEST(CheckpointFormat, LayoutThatDoesNotCoverTheValuesIsRefused) {
  TrainingState s;
  s.params = s.velocity = {1, 2, 3};
  s.parameter_layout = {{"conv1.weight", {2}}};
  const std::string path = scratch_file("bad_layout.h5");
  try {
    save_checkpoint(path, s);
    FAIL() << "saved a checkpoint whose layout misses a value";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("layout names 2 values, there are 3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path)) << "nothing under the final name";
}

TEST(CheckpointFormat, MissingTensorNamesTheDataSet) {
  const std::string path = scratch_file("missing.h5");
  save_checkpoint(path, trained_depth8());
  {
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    ASSERT_GE(H5Ldelete(file, "model/bn1.running_var", H5P_DEFAULT), 0);
  }
  try {
    load_checkpoint(path);
    FAIL() << "loaded a checkpoint without bn1.running_var";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/model/bn1.running_var"), std::string::npos) << e.what();
  }
}

// Found by fuzz_dasnet_files: a tensor whose header claims more values than the file holds made
// the reader allocate them (std::length_error / bad_alloc, which checkpoint_is_readable, the
// sweep's check before resuming, did not catch).
TEST(CheckpointFormat, TensorLargerThanItsFileIsRefusedBeforeItIsAllocated) {
  const std::string path = scratch_file("huge.h5");
  save_checkpoint(path, trained_depth8());
  {
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    ASSERT_GE(H5Ldelete(file, "model/bn1.running_var", H5P_DEFAULT), 0);
    const hsize_t huge[1] = {hsize_t(1) << 60};
    h5::Handle space(H5Screate_simple(1, huge, nullptr));
    h5::Handle ds(H5Dcreate2(file, "model/bn1.running_var", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT));  // never written: no storage
    ASSERT_GE(hid_t(ds), 0);
  }
  EXPECT_FALSE(checkpoint_is_readable(path));
  try {
    load_checkpoint(path);
    FAIL() << "loaded a checkpoint with a 2^60-value tensor";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/model/bn1.running_var claims"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dasnet
