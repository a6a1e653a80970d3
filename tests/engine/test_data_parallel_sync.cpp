// DataParallelSync over a stream-ordered communicator (the NCCL path), checked on the CPU with a
// recording stand-in: every gradient bucket is queued from the training thread as soon as it is
// final, the buckets cover the flat gradient buffer exactly once per step, nothing queued changes
// before finish_step waits, and training through it equals training without any sync.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "io/synthetic_images.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"
#include "train/trainer.h"

namespace dasnet {
namespace {

// One rank whose collectives are queued (asynchronous() true, like NCCL) and completed in
// wait_async(): there each queued range is averaged with an identical peer, (g + g) / 2 == g.
class QueuedCollectives : public Communicator {
 public:
  struct Queued {
    float* data;
    size_t count;
    std::vector<float> at_queue_time;
  };
  std::string name() const override { return "queued"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void barrier() override {}
  void broadcast(float*, size_t, int) override { ++broadcasts; }
  void all_reduce(float*, size_t, ReduceOp) override { ++blocking_reductions; }
  void all_reduce_sum(double*, size_t) override {}
  void broadcast_bytes(void*, size_t, int) override {}
  bool thread_safe() const override { return true; }
  [[noreturn]] void abort(const std::string& message) override { throw std::runtime_error(message); }

  bool asynchronous() const override { return true; }
  void all_reduce_async(float* data, size_t count, ReduceOp op) override {
    EXPECT_EQ(op, ReduceOp::Average);
    EXPECT_EQ(std::this_thread::get_id(), training_thread) << "queued from another thread";
    queue.push_back({data, count, std::vector<float>(data, data + count)});
  }
  void wait_async() override {
    ++waits;
    for (Queued& q : queue) {
      for (size_t i = 0; i < q.count; ++i) {
        // The gradients were final when queued: a device would already be reducing them.
        if (q.data[i] != q.at_queue_time[i]) ++changed_after_queueing;
        q.data[i] = (q.data[i] + q.data[i]) / 2;
      }
    }
    finished.insert(finished.end(), queue.begin(), queue.end());
    queue.clear();
  }

  std::thread::id training_thread = std::this_thread::get_id();
  std::vector<Queued> queue, finished;
  long waits = 0, broadcasts = 0, blocking_reductions = 0, changed_after_queueing = 0;
};

ModelConfig small_model() {
  ModelConfig model;
  model.depth = 8;
  model.width = 4;
  model.height = model.image_width = 16;
  return model;
}

TEST(DataParallelSyncQueued, BucketsCoverTheGradientsOnceInBackwardOrder) {
  auto backend = make_backend(BackendKind::Reference);
  auto net = build_resnet(small_model(), *backend, 2);
  ParameterSet& ps = net->params();
  QueuedCollectives comm;
  DataParallelOptions options;
  options.bucket_bytes = 200 * sizeof(float);  // several buckets for the ~5,000 parameters
  DataParallelSync sync(comm, ps.grads(), ps.parameter_count(), options);
  net->set_gradient_ready([&](size_t offset, size_t count) { sync.gradient_ready(offset, count); });
  SyntheticImages data(8, Shape{1, 1, 16, 16}, 4);
  std::vector<float> images(8 * 256);
  std::vector<int> labels(8);
  for (int i = 0; i < 8; ++i) data.read(i, images.data() + i * 256, &labels[i]);

  for (int step = 0; step < 2; ++step) {
    sync.begin_step();
    const Tensor& logits = net->forward(images.data(), 8, true);
    backend->loss(small_model().mode, logits, labels.data(), &net->logits_gradient(), nullptr);
    net->backward();
    // Buckets were queued during backward, before finish_step: the overlap with backward.
    EXPECT_GE(comm.queue.size(), 3u) << "step " << step;
    const size_t queued_during_backward = comm.queue.size();
    sync.finish_step(1.0);
    EXPECT_EQ(comm.waits, step + 1);
    EXPECT_LE(comm.finished.size(), queued_during_backward + 1);
    // From the end of the buffer to its start, contiguous, each element once.
    size_t expected_end = ps.parameter_count();
    for (const auto& q : comm.finished) {
      const size_t offset = size_t(q.data - ps.grads());
      EXPECT_EQ(offset + q.count, expected_end);
      expected_end = offset;
    }
    EXPECT_EQ(expected_end, 0u);
    comm.finished.clear();
  }
  net->set_gradient_ready(nullptr);
  EXPECT_EQ(comm.changed_after_queueing, 0);
  EXPECT_EQ(comm.blocking_reductions, 0) << "stream-ordered buckets went through the blocking all-reduce";
}

std::vector<float> train_weights(bool with_sync, QueuedCollectives* comm) {
  auto backend = make_backend(BackendKind::Reference);
  const ModelConfig model = small_model();
  auto net = build_resnet(model, *backend, 2);
  SyntheticImages data(64, Shape{1, 1, 16, 16}, 4);
  TrainConfig config;
  config.epochs = 2;
  config.batch_size = 16;
  config.seed = 3;
  config.optimizer.lr = 0.05f;
  config.progress = false;
  Trainer trainer(*net, model, config, data, nullptr);
  DataParallelOptions options;
  options.bucket_bytes = 512 * sizeof(float);
  DataParallelSync sync(*comm, net->params().grads(), net->params().parameter_count(), options);
  if (with_sync) trainer.set_gradient_sync(&sync);
  trainer.run([](const EpochMetrics&) {});
  std::vector<float> weights(net->params().parameter_count());
  backend->copy_to_host(weights.data(), net->params().params(), weights.size());
  return weights;
}

TEST(DataParallelSyncQueued, TrainingEqualsTrainingWithoutSync) {
  QueuedCollectives plain_comm, queued_comm;
  const std::vector<float> plain = train_weights(false, &plain_comm);
  const std::vector<float> queued = train_weights(true, &queued_comm);
  EXPECT_EQ(queued, plain);
  EXPECT_EQ(queued_comm.waits, 2 * 4) << "one wait per step: 2 epochs of 4 steps";
  EXPECT_EQ(queued_comm.broadcasts, 3 + 2)
      << "weights, batchnorm statistics and momentum at the start; the statistics after each epoch";
  EXPECT_EQ(queued_comm.changed_after_queueing, 0);
}

}  // namespace
}  // namespace dasnet
