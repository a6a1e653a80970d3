#include "dist/cost_model.h"

#include <algorithm>
#include <cmath>

namespace dasnet {

double ring_allreduce_seconds(double bytes, int ranks, const LinkModel& link) {
  if (ranks <= 1 || bytes <= 0) return 0;
  const double p = ranks;
  return 2 * (p - 1) * link.latency_s + 2 * (p - 1) / p * bytes / link.bandwidth_bytes_per_s;
}

LinkModel fit_link_model(const std::vector<AllreduceSample>& samples) {
  // seconds = a * x + b * y with x = 2 (p - 1), y = 2 (p - 1) / p * bytes; a = latency, b = 1 / bandwidth.
  double sxx = 0, sxy = 0, syy = 0, sxt = 0, syt = 0;
  for (const auto& s : samples) {
    if (s.ranks <= 1) continue;
    const double x = 2.0 * (s.ranks - 1), y = 2.0 * (s.ranks - 1) / s.ranks * s.bytes;
    // Relative weighting: small messages (latency) count as much as large ones (bandwidth).
    const double w = 1.0 / std::max(s.seconds * s.seconds, 1e-18);
    sxx += w * x * x, sxy += w * x * y, syy += w * y * y, sxt += w * x * s.seconds, syt += w * y * s.seconds;
  }
  LinkModel link;
  const double det = sxx * syy - sxy * sxy;
  double a = 0, b = 0;
  if (det > 0) {
    a = (sxt * syy - syt * sxy) / det;
    b = (syt * sxx - sxt * sxy) / det;
  }
  if (a < 0 || b <= 0) {  // a negative term: refit with that term alone
    a = std::max(a, 0.0);
    b = syy > 0 ? std::max((syt - a * sxy) / syy, 1e-15) : 1e-15;
  }
  link.latency_s = a;
  link.bandwidth_bytes_per_s = 1.0 / b;
  return link;
}

LinkModel ClusterModel::link_for(int ranks) const {
  return ranks <= devices_per_node ? intra_node : inter_node;
}

ScalingPrediction predict_data_parallel(const StepProfile& step, const ClusterModel& cluster, int ranks,
                                        double bucket_bytes, bool overlap) {
  ScalingPrediction r;
  r.ranks = ranks;
  const LinkModel link = cluster.link_for(ranks);
  double exposed = 0;
  if (ranks > 1) {
    const double total = step.gradient_bytes;
    const double bucket = std::max(bucket_bytes, 1.0);
    double produced = 0, channel_free = 0, comm = 0;
    while (produced < total) {
      const double size = std::min(bucket, total - produced);
      produced += size;
      const double ready = step.backward_s * produced / total;
      const double cost = ring_allreduce_seconds(size, ranks, link);
      const double start = overlap ? std::max(ready, channel_free) : std::max(step.backward_s, channel_free);
      channel_free = start + cost;
      comm += cost;
    }
    r.allreduce_s = comm;
    exposed = std::max(0.0, channel_free - step.backward_s) + ring_allreduce_seconds(8, ranks, link);
  }
  r.exposed_s = exposed;
  r.step_s = step.step_s() + exposed;
  r.samples_per_s = ranks * step.batch_per_rank / r.step_s;
  r.efficiency = step.step_s() / r.step_s;
  return r;
}

double resnet_train_gflop_per_sample(int depth, int height, int width) {
  // 6n 3x3 convolutions of 16 x 16 channels at full size (or the same cost at 2x the channels
  // and a quarter of the pixels), 2 FLOP per multiply-add, x3 for forward + two backward passes.
  const double pixels = double(height) * width;
  const double per_conv = 2.0 * 9 * 16 * 16 * pixels;
  const double stem = 2.0 * 9 * 1 * 16 * pixels;
  return 3 * ((depth - 2) * per_conv + stem) / 1e9;
}

long study_parameter_count(int depth) {
  switch (depth) {
    case 8: return 77234;
    case 14: return 174450;
    case 20: return 271666;
    case 26: return 368882;
    case 32: return 466098;
  }
  return 77234 + long(depth - 8) / 6 * 97216;  // each block per stage adds 97,216
}

}  // namespace dasnet
