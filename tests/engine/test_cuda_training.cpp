// The Trainer on the CUDA backend: steps replayed as CUDA graphs train the same weights as plain
// launches, and a one-rank NCCL run (gradients averaged by ncclAllReduce on NCCL's stream,
// ordered after backward with events) trains the same weights as training without any sync,
// also with synchronized batchnorm. Without a usable GPU (or NCCL) every test skips and says why.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dasnet/build_config.h"
#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "io/synthetic_images.h"
#include "models/resnet.h"
#include "tests/engine/layer_harness.h"
#include "train/trainer.h"

#if DASNET_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "tests/cuda_test_util.h"
#endif

namespace dasnet {
namespace {

#if !DASNET_HAVE_CUDA

TEST(CudaTrainer, NotBuilt) { GTEST_SKIP() << "no CUDA device: this build has no CUDA backend"; }

#else

using testing::max_relative_error;
using testing::options_for;

struct Trained {
  std::vector<float> params, state;
  long graph_replays = 0;
};


// Two epochs of ResNet-8 on 24x24 synthetic images, batch 16 (the last batch of each epoch is
// smaller: a second batch size for the graphs to handle), deterministic cuDNN algorithms. Runs
// that are compared share one backend: the same cached algorithms, so the same rounding.
Trained train(CudaBackend& cuda, bool graphs, Communicator* comm, bool sync_batchnorm = false) {
  if (comm) comm->set_compute_stream(cuda.native_stream());
  ModelConfig model;
  model.depth = 8;
  model.height = model.image_width = 24;
  auto net = build_resnet(model, cuda, 4);
  SyntheticImages data(88, Shape{1, 1, 24, 24}, 6);
  TrainConfig config;
  config.epochs = 2;
  config.batch_size = 16;
  config.seed = 2;
  config.optimizer.lr = 0.05f;
  config.progress = false;
  config.cuda_graphs = graphs;
  Trainer trainer(*net, model, config, data, nullptr);
  DataParallelOptions sync_options;
  sync_options.bucket_bytes = 4096 * sizeof(float);  // several buckets queued during backward
  std::unique_ptr<DataParallelSync> sync;
  if (comm) {
    sync = std::make_unique<DataParallelSync>(*comm, net->params().grads(), net->params().parameter_count(),
                                              sync_options);
    trainer.set_gradient_sync(sync.get(), sync_batchnorm);
  }
  trainer.run([](const EpochMetrics&) {});
  Trained result;
  result.params.resize(net->params().parameter_count());
  result.state.resize(net->params().state_count());
  cuda.copy_to_host(result.params.data(), net->params().params(), result.params.size());
  cuda.copy_to_host(result.state.data(), net->params().state(), result.state.size());
  result.graph_replays = trainer.cuda_graph_replays();
  if (comm) comm->set_compute_stream(nullptr);  // the backend and its stream end here
  return result;
}

// In fp32 NCHW and in bf16 NHWC (the tensor-core default), through the whole Trainer.
TEST(CudaTrainer, GraphsTrainTheSameWeightsAsPlainLaunches) {
  DASNET_REQUIRE_CUDA();
  for (CudaPrecision precision : {CudaPrecision::Fp32, CudaPrecision::Bf16}) {
    CudaBackend cuda(options_for(precision, true));
    Trained plain = train(cuda, false, nullptr), graphed = train(cuda, true, nullptr);
    EXPECT_EQ(plain.graph_replays, 0);
    // 6 steps per epoch (5 full, 1 of 8); the first steps of each batch size run plainly.
    EXPECT_GE(graphed.graph_replays, 4) << cuda.name();
    EXPECT_LE(max_relative_error(graphed.params, plain.params), 1e-5) << cuda.name();
    EXPECT_LE(max_relative_error(graphed.state, plain.state), 1e-5) << cuda.name();
  }
}

std::unique_ptr<Communicator> one_rank_nccl() {
  CommOptions options;
  options.backend = "nccl";
  return make_communicator(options);
}

TEST(CudaNccl, OneRankTrainingEqualsTrainingWithoutSync) {
  DASNET_REQUIRE_CUDA();
  if (!have_nccl()) GTEST_SKIP() << "no NCCL: this build of dasnet has none";
  if (launcher_world_size() > 1) GTEST_SKIP() << "started with several ranks: this test is for one";
  auto comm = one_rank_nccl();
  ASSERT_TRUE(comm->asynchronous());
  CudaBackend cuda(options_for(CudaPrecision::Fp32, true));
  Trained plain = train(cuda, false, nullptr), nccl = train(cuda, false, comm.get());
  EXPECT_EQ(nccl.graph_replays, 0) << "data-parallel steps run plainly";
  // The average over one rank is the gradient itself.
  EXPECT_LE(max_relative_error(nccl.params, plain.params), 1e-6);
  EXPECT_LE(max_relative_error(nccl.state, plain.state), 1e-6);
}

TEST(CudaNccl, OneRankSynchronizedBatchNormEqualsLocalBatchNorm) {
  DASNET_REQUIRE_CUDA();
  if (!have_nccl()) GTEST_SKIP() << "no NCCL: this build of dasnet has none";
  if (launcher_world_size() > 1) GTEST_SKIP() << "started with several ranks: this test is for one";
  auto comm = one_rank_nccl();
  CudaBackend cuda(options_for(CudaPrecision::Fp32, true));
  Trained plain = train(cuda, false, nullptr), synchronized = train(cuda, false, comm.get(), true);
  // Synchronized statistics come from double sums: equal up to float rounding.
  EXPECT_LE(max_relative_error(synchronized.params, plain.params), 1e-4);
  EXPECT_LE(max_relative_error(synchronized.state, plain.state), 1e-4);
}

#endif  // DASNET_HAVE_CUDA

}  // namespace
}  // namespace dasnet
