#include "train/precise_batchnorm.h"

#include <cmath>
#include <vector>

#include "core/gradient_sync.h"

namespace dasnet {

namespace {

// The ranks' running statistics averaged (host round trip: a few thousand floats).
void average_statistics_over_ranks(Network& net, GradientSync& sync) {
  ParameterSet& ps = net.params();
  Backend& backend = net.backend();
  std::vector<float> state(ps.state_count());
  backend.copy_to_host(state.data(), ps.state(), state.size());
  std::vector<double> sums(state.begin(), state.end());
  sync.sum(sums.data(), sums.size());
  for (size_t i = 0; i < state.size(); ++i) state[i] = float(sums[i] / sync.world());
  backend.copy_from_host(ps.state(), state.data(), state.size());
}

}  // namespace

int recalibrate_batchnorm(Network& net, const DataSource& train, const LoaderOptions& options, int epoch,
                          int batches, GradientSync* sync) {
  Loader loader(train, options);
  loader.start_epoch(epoch);
  Batch batch;
  int used = 0;
  while (used < batches && loader.next(batch)) {
    net.set_statistics_momentum(1.0f / float(used + 1));
    net.forward(batch.images.data(), batch.count(), true);
    ++used;
  }
  net.set_statistics_momentum(-1);
  // Every rank takes part in the sum, also one whose shard had no batch.
  if (sync) average_statistics_over_ranks(net, *sync);
  return used;
}

std::string initial_statistics_warning(const Network& net, long steps, double momentum) {
  const double initial_share = std::pow(1.0 - momentum, double(steps));
  const ParameterSet& ps = net.params();
  std::vector<float> state(ps.state_count());
  net.backend().copy_to_host(state.data(), ps.state(), state.size());
  long channels = 0, dominated = 0;
  for (const auto& slot : ps.state_slots()) {
    if (slot.name.size() < 12 || slot.name.compare(slot.name.size() - 12, 12, ".running_var") != 0) continue;
    for (size_t c = 0; c < slot.count; ++c, ++channels)
      if (initial_share * 1.0 > 0.5 * state[slot.offset + c]) ++dominated;
  }
  if (channels == 0 || dominated * 4 < channels) return "";
  char text[400];
  std::snprintf(text, sizeof text,
                "warning: after %ld training steps the batchnorm running variances still hold %.0f%% of their "
                "initial value 1, more than half of the variance in %ld of %ld channels: validation and saved "
                "models use mostly the initial statistics, not the data's (validation accuracy can sit at chance). "
                "--bn-recalibrate 20 recomputes them from training batches before each evaluation.",
                steps, 100 * initial_share, dominated, channels);
  return text;
}

}  // namespace dasnet
