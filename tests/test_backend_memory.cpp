// Backend memory releases itself: every buffer a network, optimizer or evaluation allocates is
// gone when its holder goes, also when an allocation or a later step throws half-way.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "io/synthetic_images.h"
#include "kernels/backend_factory.h"
#include "kernels/cpu_reference.h"
#include "models/resnet.h"
#include "train/trainer.h"

namespace dasnet {
namespace {

// The reference backend with its own ledger of live pointers, and an allocation that fails on
// request: the N-th allocate() throws as an out-of-memory would.
class CountingBackend : public ReferenceCpuBackend {
 public:
  long fail_at = -1;  // 1-based allocation that throws; -1: none
  long allocations = 0;
  std::set<float*> live;

 protected:
  float* allocate_memory(size_t count) override {
    if (++allocations == fail_at) throw std::runtime_error("out of memory (simulated)");
    float* p = ReferenceCpuBackend::allocate_memory(count);
    live.insert(p);
    return p;
  }
  void release_memory(float* p) noexcept override {
    live.erase(p);
    ReferenceCpuBackend::release_memory(p);
  }
};

// A data set whose reads fail from sample `fail_from` on (a file gone bad half-way).
class FailingImages : public SyntheticImages {
 public:
  FailingImages(size_t count, size_t fail_from) : SyntheticImages(count, {1, 1, 8, 8}, 4), fail_from_(fail_from) {}
  void read(size_t index, float* image, int* label) const override {
    if (index >= fail_from_) throw std::runtime_error("unreadable sample " + std::to_string(index));
    SyntheticImages::read(index, image, label);
  }

 private:
  size_t fail_from_;
};

ModelConfig tiny_model() {
  ModelConfig model;
  model.depth = 8;
  model.height = model.image_width = 8;
  return model;
}

TrainConfig one_epoch() {
  TrainConfig train;
  train.epochs = 1;
  train.batch_size = 8;
  train.progress = false;
  return train;
}

TEST(BackendMemory, TrainingAndEvaluationReleaseEveryBuffer) {
  for (BackendKind kind : {BackendKind::Reference, BackendKind::Cpu}) {
    auto backend = make_backend(kind);
    SyntheticImages train_set(32, {1, 1, 8, 8}, 1), val_set(16, {1, 1, 8, 8}, 2);
    {
      auto net = build_resnet(tiny_model(), *backend, 0);
      Trainer trainer(*net, tiny_model(), one_epoch(), train_set, &val_set);
      EXPECT_GT(backend->live_buffers(), 0);
      ASSERT_EQ(trainer.run([](const EpochMetrics&) {}), TrainStatus::Completed);
      const long during = backend->live_buffers();
      std::vector<float> images(2 * 64, 0.5f);
      predict_p_usable(*net, OutputMode::Softmax, images.data(), 2);
      EXPECT_EQ(backend->live_buffers(), during) << "prediction kept a buffer";
    }
    EXPECT_EQ(backend->live_buffers(), 0) << backend->name();
  }
}

TEST(BackendMemory, AllocationFailingHalfWayLeaksNothing) {
  CountingBackend counting;
  { auto net = build_resnet(tiny_model(), counting, 0); }
  const long needed = counting.allocations;
  ASSERT_GT(needed, 3);
  EXPECT_TRUE(counting.live.empty());
  for (long fail_at = 1; fail_at <= needed; ++fail_at) {
    CountingBackend backend;
    backend.fail_at = fail_at;
    EXPECT_THROW(build_resnet(tiny_model(), backend, 0), std::runtime_error) << "allocation " << fail_at;
    EXPECT_TRUE(backend.live.empty()) << backend.live.size() << " buffers leaked when allocation " << fail_at
                                      << " of " << needed << " failed";
    EXPECT_EQ(backend.live_buffers(), 0);
  }
}

TEST(BackendMemory, StepOrEvaluationThrowingHalfWayLeaksNothing) {
  CountingBackend backend;
  SyntheticImages train_set(32, {1, 1, 8, 8}, 1);
  FailingImages bad_validation(32, 12);  // the second evaluation batch fails
  {
    auto net = build_resnet(tiny_model(), backend, 0);
    Trainer trainer(*net, tiny_model(), one_epoch(), train_set, &bad_validation);
    EXPECT_THROW(trainer.run([](const EpochMetrics&) {}), std::runtime_error);
    EXPECT_THROW(evaluate(*net, OutputMode::Softmax, bad_validation, 8), std::runtime_error);
  }
  EXPECT_TRUE(backend.live.empty()) << backend.live.size() << " buffers leaked";
  EXPECT_EQ(backend.live_buffers(), 0);
}

}  // namespace
}  // namespace dasnet
