// The scaling cost model: ring all-reduce formula, fitting it back from its own samples, overlap
// of buckets with backward, and the single-process communicator (no MPI needed).
#include <gtest/gtest.h>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "dist/communicator.h"
#include "dist/cost_model.h"
#include "dist/data_parallel.h"

namespace dasnet {
namespace {

TEST(CostModel, RingAllreduceFormula) {
  LinkModel link{10e-6, 10e9};
  EXPECT_EQ(ring_allreduce_seconds(1e6, 1, link), 0);
  // 2 (p-1) latencies + 2 (p-1)/p bytes / bandwidth
  EXPECT_NEAR(ring_allreduce_seconds(1e6, 4, link), 6 * 10e-6 + 1.5 * 1e6 / 10e9, 1e-12);
}

TEST(CostModel, FitRecoversLatencyAndBandwidth) {
  LinkModel truth{25e-6, 3e9};
  std::vector<AllreduceSample> samples;
  for (int p : {2, 4})
    for (double bytes = 1e3; bytes < 1e8; bytes *= 4) samples.push_back({p, bytes, ring_allreduce_seconds(bytes, p, truth)});
  LinkModel fit = fit_link_model(samples);
  EXPECT_NEAR(fit.latency_s, truth.latency_s, 1e-9);
  EXPECT_NEAR(fit.bandwidth_bytes_per_s / truth.bandwidth_bytes_per_s, 1.0, 1e-6);
}

TEST(CostModel, OverlapHidesAllreduceBehindBackward) {
  ClusterModel cluster{"test", 8, {5e-6, 50e9}, {20e-6, 10e9}};
  StepProfile step{0.05, 0.1, 0.0, 4e6, 128};
  auto overlapped = predict_data_parallel(step, cluster, 32, 0.5e6, true);
  auto serial = predict_data_parallel(step, cluster, 32, 0.5e6, false);
  EXPECT_LT(overlapped.exposed_s, serial.exposed_s);
  EXPECT_NEAR(serial.exposed_s, serial.allreduce_s + ring_allreduce_seconds(8, 32, cluster.inter_node), 1e-12);
  EXPECT_GT(overlapped.efficiency, serial.efficiency);
  EXPECT_NEAR(overlapped.samples_per_s, 32 * 128 / overlapped.step_s, 1e-9);
  auto one = predict_data_parallel(step, cluster, 1, 0.5e6, true);
  EXPECT_DOUBLE_EQ(one.efficiency, 1.0);
}

TEST(CostModel, StudyParametersAndFlops) {
  EXPECT_EQ(study_parameter_count(14), 174450);
  EXPECT_EQ(study_parameter_count(32), 466098);
  // FIELD-NOTES: about 6.2 GFLOP per training sample at depth 14, 200 x 200.
  EXPECT_NEAR(resnet_train_gflop_per_sample(14, 200, 200), 6.2, 0.6);
}

TEST(SingleProcessCommunicator, CollectivesAreIdentity) {
  auto comm = make_single_process_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  std::vector<float> g{1, 2, 3};
  DataParallelSync sync(*comm, g.data(), g.size());
  sync.begin_step();
  sync.gradient_ready(0, 3);
  EXPECT_EQ(sync.finish_step(2.5), 2.5);
  EXPECT_EQ(g, (std::vector<float>{1, 2, 3}));
  CommOptions options;
  options.backend = "bogus";
  EXPECT_THROW(make_communicator(options), UsageError);
}

}  // namespace
}  // namespace dasnet
