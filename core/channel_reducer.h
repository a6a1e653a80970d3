// Synchronized batchnorm's only need from data-parallel training: sum small per-channel vectors
// over the ranks. core/ and train/ stay free of MPI; dist/data_parallel.h implements it.
#pragma once
#include <cstddef>
#include <vector>

namespace dasnet {

class ChannelReducer {
 public:
  virtual ~ChannelReducer() = default;
  // Element-wise sum over the ranks of host doubles, in place. Every rank calls it the same
  // number of times in the same order (one call per batchnorm layer in forward and backward).
  virtual void sum(double* values, size_t count) = 0;
};

// Sums `sums` and this rank's value count over the ranks in one call; returns the global count.
inline double sum_with_count(ChannelReducer& reducer, std::vector<double>& sums, double local_count) {
  sums.push_back(local_count);
  reducer.sum(sums.data(), sums.size());
  const double global_count = sums.back();
  sums.pop_back();
  return global_count;
}

}  // namespace dasnet
