// A cost model of data-parallel training: ring all-reduce time from a latency and a bandwidth
// term (fitted from measured all-reduce times, or assumed for hardware we do not have), bucketed
// all-reduce overlapped with backward, and measured or assumed single-device step times ->
// predicted step time, throughput and weak-scaling efficiency for any rank count.
#pragma once
#include <string>
#include <vector>

namespace dasnet {

// One link class: time of one ring step = latency + bytes / bandwidth.
struct LinkModel {
  double latency_s = 0;
  double bandwidth_bytes_per_s = 1;
};

// Ring all-reduce of `bytes` over p ranks: 2 (p - 1) latency terms + 2 (p - 1) / p * bytes / bandwidth.
double ring_allreduce_seconds(double bytes, int ranks, const LinkModel& link);

struct AllreduceSample {
  int ranks = 2;
  double bytes = 0, seconds = 0;
};
// Least squares of the two terms over the samples (non-negative; needs ranks > 1 in them).
LinkModel fit_link_model(const std::vector<AllreduceSample>& samples);

// Nodes of `devices_per_node` devices: fast links inside a node, slower ones between nodes. A ring
// that leaves the node runs at the pace of its slowest hop (the inter-node link).
struct ClusterModel {
  std::string name;
  int devices_per_node = 1;
  LinkModel intra_node, inter_node;
  LinkModel link_for(int ranks) const;
};

// Single-device step of one configuration (measured here, or assumed for a V100).
struct StepProfile {
  double forward_s = 0;   // forward + loss
  double backward_s = 0;  // backward (the gradient buckets become ready during it)
  double other_s = 0;     // optimizer and anything else not overlapped
  double gradient_bytes = 0;
  int batch_per_rank = 1;
  double step_s() const { return forward_s + backward_s + other_s; }
};

struct ScalingPrediction {
  int ranks = 1;
  double allreduce_s = 0;  // all buckets, back to back
  double exposed_s = 0;    // the part not hidden behind backward
  double step_s = 0;
  double samples_per_s = 0;  // summed over ranks
  double efficiency = 1;     // weak scaling: single-device step time / step time
};

// Buckets of `bucket_bytes` become ready in order through backward (gradient bytes produced at a
// uniform rate); one reduction at a time; with overlap, a bucket starts when it is ready and the
// previous one is done. Also counts the per-step loss all-reduce (8 bytes).
ScalingPrediction predict_data_parallel(const StepProfile& step, const ClusterModel& cluster, int ranks,
                                        double bucket_bytes, bool overlap = true);

// Training FLOPs per sample of the study's CIFAR-style ResNet (3 x the forward 3x3 convolutions,
// which dominate; every stage costs the same): used to scale an assumed step time across depths.
double resnet_train_gflop_per_sample(int depth, int height, int width);
// Trainable parameters of the study's ResNet with 1 input channel and K = 2 (FIELD-NOTES values).
long study_parameter_count(int depth);

}  // namespace dasnet
