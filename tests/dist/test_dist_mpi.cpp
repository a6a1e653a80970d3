// Distributed tests, run by CTest under mpirun with 1, 2, 3 and 4 ranks (dist_mpi_npN): the ring
// all-reduce against MPI_Allreduce, the communicator's collectives, gradient buckets, and
// data-parallel training against one process with the same global batch, with and without
// synchronized batchnorm.
#include <gtest/gtest.h>
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <utility>

#include "core/network.h"
#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "dist/ring_allreduce.h"
#include "io/synthetic_images.h"
#include "kernels/backend_factory.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "models/resnet.h"
#include "train/trainer.h"

namespace dasnet {
namespace {

Communicator* g_comm = nullptr;

int world_rank() { return g_comm->rank(); }
int world_size() { return g_comm->size(); }

// Small integers: every summation order gives the exact same float, so ring and MPI must agree bit for bit.
std::vector<float> integer_data(size_t n, int rank) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float((i * 7 + size_t(rank) * 13) % 97) - 48.0f;
  return v;
}

TEST(RingAllreduce, EqualsMpiAllreduceForManySizes) {
  const int p = world_size();
  std::vector<size_t> sizes{0, 1, 2, 3, 4, 5, 7, 13, 100, 1001, 65537, (size_t(1) << 18) * 3 + 5, 1000003,
                            10000000};
  for (size_t extra = 0; extra < 5; ++extra) sizes.push_back(size_t(p) * 11 + extra);  // p | n and p !| n
  std::vector<float> scratch;
  for (size_t n : sizes) {
    std::vector<float> ring = integer_data(n, world_rank());
    std::vector<float> library = ring;
    ASSERT_EQ(ring_allreduce_sum(ring.data(), n, MPI_COMM_WORLD, scratch), MPI_SUCCESS) << n;
    if (n) MPI_Allreduce(MPI_IN_PLACE, library.data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    size_t mismatches = 0;
    for (size_t i = 0; i < n; ++i) mismatches += ring[i] != library[i];
    EXPECT_EQ(mismatches, 0u) << "size " << n << " on " << p << " ranks";
  }
}

TEST(RingAllreduce, RandomFloatsWithinRounding) {
  std::mt19937 rng(17 + world_rank());
  std::normal_distribution<float> normal;
  const size_t n = 12345;
  std::vector<float> ring(n);
  for (auto& x : ring) x = normal(rng);
  std::vector<double> exact(ring.begin(), ring.end());
  std::vector<float> scratch;
  ASSERT_EQ(ring_allreduce_sum(ring.data(), n, MPI_COMM_WORLD, scratch), MPI_SUCCESS);
  MPI_Allreduce(MPI_IN_PLACE, exact.data(), int(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (size_t i = 0; i < n; ++i) ASSERT_NEAR(ring[i], exact[i], 1e-5 * (1 + std::fabs(exact[i]))) << i;
}

TEST(Communicator, RanksCollectivesAndAverage) {
  Communicator& c = *g_comm;
  EXPECT_EQ(c.size(), launcher_world_size());
  EXPECT_EQ(c.local_size(), c.size());  // all ranks of the test run on this host
  EXPECT_EQ(c.local_rank(), c.rank());
  std::vector<float> v(1001, float(c.rank() == 0 ? 3.5 : -1));
  c.broadcast(v.data(), v.size(), 0);
  for (float x : v) ASSERT_EQ(x, 3.5f);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(c.rank() + 1) * float(i % 5);
  c.all_reduce(v.data(), v.size(), ReduceOp::Average);
  const float mean_factor = float(c.size() + 1) / 2;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_FLOAT_EQ(v[i], mean_factor * float(i % 5));
  double d[2] = {1.0, double(c.rank())};
  c.all_reduce_sum(d, 2);
  EXPECT_EQ(d[0], c.size());
  EXPECT_EQ(d[1], c.size() * (c.size() - 1) / 2);
  c.barrier();
}

TEST(DataParallelSync, BucketsInAnyOrderAverageEveryGradient) {
  const size_t n = 1000;
  std::vector<float> grads(n);
  for (bool overlap : {true, false}) {
    DataParallelOptions options;
    options.bucket_bytes = 100 * sizeof(float);
    options.overlap = overlap;
    DataParallelSync sync(*g_comm, grads.data(), n, options);
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < n; ++i) grads[i] = float(world_rank() * 2 + step) + float(i % 3);
      sync.begin_step();
      // Reverse layer order like backward, one range out of order, and the first 10 never reported.
      sync.gradient_ready(900, 100);
      sync.gradient_ready(850, 50);
      sync.gradient_ready(500, 200);
      // A synchronized-batchnorm sum while buckets may still be reducing: queued behind them.
      double channel_sums[3] = {1.0, double(world_rank()), -2.0};
      sync.batchnorm_reducer()->sum(channel_sums, 3);
      EXPECT_EQ(channel_sums[0], world_size());
      EXPECT_EQ(channel_sums[1], world_size() * (world_size() - 1) / 2);
      EXPECT_EQ(channel_sums[2], -2.0 * world_size());
      sync.gradient_ready(700, 150);
      sync.gradient_ready(10, 490);
      double loss = sync.finish_step(1.5);
      EXPECT_DOUBLE_EQ(loss, 1.5 * world_size());
      const float mean_rank_part = float(world_size() - 1) + float(step);
      for (size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(grads[i], mean_rank_part + float(i % 3)) << i;
    }
    if (world_size() > 1) {
      EXPECT_GE(sync.timings().buckets, 3 * 3);
    }
  }
}

// conv 3x3 (1 -> 4) + ReLU + global average pool + linear (4 -> 2): nothing depends on the batch,
// so p ranks with per-rank batch B/p compute the same averaged gradient as one process with B.
std::unique_ptr<Network> tiny_network(Backend& backend) {
  auto net = std::make_unique<Network>(Shape{1, 1, 16, 16});
  int x = net->add("conv1", std::make_unique<Conv2d>(1, 4, 3, 1, 1), {0});
  x = net->add("relu", std::make_unique<Relu>(), {x});
  x = net->add("pool", std::make_unique<GlobalAvgPool>(), {x});
  net->add("linear", std::make_unique<Linear>(4, 2), {x});
  net->build(backend, 11);
  return net;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

// Trains the tiny network for one epoch; `distributed` reduces gradients over the ranks.
std::vector<float> train_tiny(int batch, int bucket_floats, bool distributed = true) {
  auto backend = make_backend(BackendKind::Reference);
  auto net = tiny_network(*backend);
  SyntheticImages data(240, Shape{1, 1, 16, 16}, 3);
  ModelConfig model;
  model.height = model.image_width = 16;
  TrainConfig config;
  config.epochs = 1;
  config.batch_size = batch;
  config.seed = 5;
  config.optimizer.lr = 0.05f;
  config.progress = false;
  Trainer trainer(*net, model, config, data, nullptr);
  std::unique_ptr<DataParallelSync> owned;
  if (distributed && world_size() > 1) {
    DataParallelOptions options;
    options.bucket_bytes = size_t(bucket_floats) * sizeof(float);
    owned = std::make_unique<DataParallelSync>(*g_comm, net->params().grads(), net->params().parameter_count(),
                                               options);
    trainer.set_gradient_sync(owned.get());
  }
  EpochMetrics last;
  trainer.run([&](const EpochMetrics& m) { last = m; });
  EXPECT_EQ(last.train_samples, 240);
  std::vector<float> params(net->params().parameter_count());
  backend->copy_to_host(params.data(), net->params().params(), params.size());
  return params;
}

TEST(DataParallelTraining, SameWeightsAsOneProcessWithTheSameGlobalBatch) {
  const int global_batch = 12;  // divisible by 1, 2, 3 and 4 ranks: 20 steps over 240 images
  ASSERT_EQ(global_batch % world_size(), 0);
  // The one-process reference, computed on every rank without communication.
  const std::vector<float> single = train_tiny(global_batch, 0, false);
  {
    // Training moved the weights far more than the tolerance below.
    auto backend = make_backend(BackendKind::Reference);
    auto net = tiny_network(*backend);
    std::vector<float> initial(single.size());
    backend->copy_to_host(initial.data(), net->params().params(), initial.size());
    ASSERT_GT(relative_difference(initial, single), 1e-2);
  }
  for (int bucket_floats : {8, 1 << 18}) {  // one bucket per layer, and one for everything
    std::vector<float> parallel = train_tiny(global_batch / world_size(), bucket_floats);
    ASSERT_EQ(parallel.size(), single.size());
    EXPECT_LE(relative_difference(parallel, single), 1e-5) << world_size() << " ranks, bucket " << bucket_floats;
    // And every rank holds the same weights.
    std::vector<float> from_root = parallel;
    g_comm->broadcast(from_root.data(), from_root.size(), 0);
    EXPECT_EQ(from_root, parallel);
  }
}

// A ResNet-8 with batchnorm in training mode: its statistics depend on the batch, so p ranks
// with B/p images each match one process with B only when batchnorm is synchronized.
struct BatchNormRun {
  std::vector<float> params, state;  // weights, and the batchnorm running statistics
};

ModelConfig small_resnet(int width) {
  ModelConfig model;
  model.depth = 8;
  model.width = width;
  model.height = model.image_width = 16;
  model.outputs = 2;
  model.mode = OutputMode::Softmax;
  return model;
}

BatchNormRun train_resnet(BackendKind kind, int width, int batch, bool distributed, bool sync_batchnorm,
                          int bn_recalibrate = 0) {
  auto backend = make_backend(kind);
  const ModelConfig model = small_resnet(width);
  auto net = build_resnet(model, *backend, 3);
  SyntheticImages data(96, Shape{1, 1, 16, 16}, 3);
  TrainConfig config;
  config.epochs = 1;
  config.batch_size = batch;
  config.seed = 5;
  config.optimizer.lr = 0.05f;
  config.progress = false;
  config.bn_recalibrate = bn_recalibrate;
  Trainer trainer(*net, model, config, data, nullptr);
  std::unique_ptr<DataParallelSync> sync;
  if (distributed) {
    DataParallelOptions options;
    options.bucket_bytes = 256 * sizeof(float);  // several buckets in flight while batchnorm sums backward
    sync = std::make_unique<DataParallelSync>(*g_comm, net->params().grads(), net->params().parameter_count(),
                                              options);
    trainer.set_gradient_sync(sync.get(), sync_batchnorm);
  }
  trainer.run([](const EpochMetrics&) {});
  BatchNormRun run;
  run.params.resize(net->params().parameter_count());
  run.state.resize(net->params().state_count());
  backend->copy_to_host(run.params.data(), net->params().params(), run.params.size());
  backend->copy_to_host(run.state.data(), net->params().state(), run.state.size());
  return run;
}


// Reference backend with width 4 (plain NCHW), fast CPU backend with width 8 (NCHW8c blocks).
class SyncBatchNorm : public ::testing::TestWithParam<std::pair<BackendKind, int>> {};

TEST_P(SyncBatchNorm, SameWeightsAndStatisticsAsOneProcessOnlyWhenSynchronized) {
  const auto [kind, width] = GetParam();
  const int global_batch = 12;  // 8 steps over 96 images on 1, 2, 3 or 4 ranks
  ASSERT_EQ(global_batch % world_size(), 0);
  const BatchNormRun single = train_resnet(kind, width, global_batch, false, false);
  {
    auto backend = make_backend(kind);
    auto net = build_resnet(small_resnet(width), *backend, 3);
    std::vector<float> initial(single.params.size());
    backend->copy_to_host(initial.data(), net->params().params(), initial.size());
    ASSERT_GT(relative_difference(initial, single.params), 1e-2) << "training barely moved the weights";
  }
  const int batch = global_batch / world_size();
  const BatchNormRun synchronized = train_resnet(kind, width, batch, true, true);
  EXPECT_LE(relative_difference(synchronized.params, single.params), 1e-4) << world_size() << " ranks";
  EXPECT_LE(relative_difference(synchronized.state, single.state), 1e-4) << world_size() << " ranks";
  std::vector<float> from_root = synchronized.params;
  g_comm->broadcast(from_root.data(), from_root.size(), 0);
  EXPECT_LE(relative_difference(synchronized.params, from_root), 1e-6) << "ranks disagree";

  if (world_size() > 1) {
    // Per-rank statistics (the default) over B/p images: visibly different training.
    const BatchNormRun local = train_resnet(kind, width, batch, true, false);
    const double local_difference = relative_difference(local.params, single.params);
    EXPECT_GT(local_difference, 1e-3) << world_size() << " ranks";
    if (world_rank() == 0)
      std::printf("      %d ranks: weights differ from one process by %.2e synchronized, %.2e per-rank batchnorm\n",
                  world_size(), relative_difference(synchronized.params, single.params), local_difference);
  }
}

// Precise batchnorm on the ranks: each rank recomputes over its shard of the same global batches
// (synchronized: the global batch's statistics) and the ranks average; the result equals one
// process recalibrating over the global batches.
TEST(PreciseBatchNormRanks, RecalibratedStatisticsEqualOneProcessOverTheGlobalBatches) {
  const int global_batch = 12;
  ASSERT_EQ(global_batch % world_size(), 0);
  const BatchNormRun single = train_resnet(BackendKind::Cpu, 8, global_batch, false, false, 3);
  const BatchNormRun momentum = train_resnet(BackendKind::Cpu, 8, global_batch, false, false, 0);
  ASSERT_GT(relative_difference(single.state, momentum.state), 1e-2) << "recalibration changed nothing";
  const BatchNormRun ranks = train_resnet(BackendKind::Cpu, 8, global_batch / world_size(), true, true, 3);
  EXPECT_LE(relative_difference(ranks.state, single.state), 1e-4) << world_size() << " ranks";
  std::vector<float> from_root = ranks.state;
  g_comm->broadcast(from_root.data(), from_root.size(), 0);
  EXPECT_EQ(ranks.state, from_root) << "ranks hold different statistics";
}

INSTANTIATE_TEST_SUITE_P(Backends, SyncBatchNorm,
                         ::testing::Values(std::make_pair(BackendKind::Reference, 4),
                                           std::make_pair(BackendKind::Cpu, 8)));

}  // namespace
}  // namespace dasnet

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  omp_set_num_threads(1);  // up to 4 ranks share 2 cores
  dasnet::CommOptions options;
  options.backend = "mpi";
  options.timeout_s = 120;
  auto comm = dasnet::make_communicator(options);
  dasnet::g_comm = comm.get();
  // Only rank 0 reports; every rank's failures still fail the exit code mpirun returns.
  if (comm->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  double failures = failed ? 1 : 0;
  comm->all_reduce_sum(&failures, 1);
  if (comm->rank() == 0 && failures > 0) std::fprintf(stderr, "%g rank(s) failed\n", failures);
  return failures > 0 ? 1 : 0;
}
