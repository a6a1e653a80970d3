// The loader: DistributedSampler sharding, per-epoch reshuffle, prefetching that delivers exactly
// the synchronous batches, errors from workers, shutdown mid-epoch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/usage_error.h"
#include "io/loader.h"

namespace dasnet {
namespace {

// Sample i is an image filled with i (scaled) and label i % 2; optional failure and jitter.
class CountingSource : public DataSource {
 public:
  explicit CountingSource(size_t n, size_t fail_at = SIZE_MAX, bool jitter = false)
      : n_(n), fail_at_(fail_at), jitter_(jitter) {}
  size_t size() const override { return n_; }
  Shape sample_shape() const override { return Shape{1, 1, 4, 5}; }
  void read(size_t index, float* image, int* label) const override {
    if (index == fail_at_) throw std::runtime_error("sample " + std::to_string(index) + " is corrupt");
    if (jitter_) std::this_thread::sleep_for(std::chrono::microseconds((index * 7919) % 300));
    for (int i = 0; i < 20; ++i) image[i] = float(index) / float(n_);
    *label = int(index % 2);
  }

 private:
  size_t n_, fail_at_;
  bool jitter_;
};

TEST(Shard, DistributedSamplerSemanticsForOneToEightRanks) {
  for (size_t n : {1u, 7u, 10u, 64u, 101u}) {
    for (int p = 1; p <= 8; ++p) {
      const size_t per = (n + size_t(p) - 1) / size_t(p);
      // The padded global order: permutation then its head repeated.
      std::vector<size_t> all;
      std::multiset<size_t> seen;
      for (int r = 0; r < p; ++r) {
        auto mine = shard_indices(n, true, 42, 3, r, p);
        ASSERT_EQ(mine.size(), per) << "n " << n << " p " << p;
        seen.insert(mine.begin(), mine.end());
      }
      // Union covers everything; only the padding repeats, each padded index once more.
      for (size_t i = 0; i < n; ++i) EXPECT_GE(seen.count(i), 1u);
      EXPECT_EQ(seen.size(), per * size_t(p));
      // Reconstruct the padded list rank-interleaved: element k*p + r is rank r's k-th.
      std::vector<size_t> padded(per * size_t(p));
      for (int r = 0; r < p; ++r) {
        auto mine = shard_indices(n, true, 42, 3, r, p);
        for (size_t k = 0; k < per; ++k) padded[k * size_t(p) + size_t(r)] = mine[k];
      }
      for (size_t i = n; i < padded.size(); ++i) EXPECT_EQ(padded[i], padded[i - n]) << "padding repeats the head";
      std::set<size_t> head(padded.begin(), padded.begin() + long(n));
      EXPECT_EQ(head.size(), n) << "the first n are a permutation";
    }
  }
  EXPECT_THROW(shard_indices(10, true, 0, 0, 2, 2), std::invalid_argument);
}

TEST(Shard, ReshuffledPerEpochAndReproducible) {
  EXPECT_EQ(shard_indices(50, true, 1, 0, 0, 1), shard_indices(50, true, 1, 0, 0, 1));
  EXPECT_NE(shard_indices(50, true, 1, 0, 0, 1), shard_indices(50, true, 1, 1, 0, 1));
  EXPECT_NE(shard_indices(50, true, 1, 0, 0, 1), shard_indices(50, true, 2, 0, 0, 1));
  auto plain = shard_indices(5, false, 1, 0, 0, 1);
  EXPECT_EQ(plain, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

std::vector<Batch> run_epoch(const DataSource& src, LoaderOptions o, int epoch) {
  Loader loader(src, o);
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

TEST(Loader, PrefetchDeliversTheSynchronousBatches) {
  CountingSource src(203, SIZE_MAX, true);
  LoaderOptions sync;
  sync.batch_size = 16;
  sync.seed = 9;
  sync.workers = 0;
  for (int workers : {1, 2, 4}) {
    for (int prefetch : {1, 3}) {
      LoaderOptions o = sync;
      o.workers = workers;
      o.prefetch_batches = prefetch;
      for (int epoch : {0, 1}) {
        auto a = run_epoch(src, sync, epoch), b = run_epoch(src, o, epoch);
        ASSERT_EQ(a.size(), b.size());
        ASSERT_EQ(a.size(), 13u);  // ceil(203 / 16)
        for (size_t i = 0; i < a.size(); ++i) {
          EXPECT_EQ(a[i].indices, b[i].indices);
          EXPECT_EQ(a[i].labels, b[i].labels);
          EXPECT_TRUE(a[i].images == b[i].images);
          EXPECT_EQ(a[i].shape, b[i].shape);
        }
        EXPECT_EQ(a.back().count(), 203 - 12 * 16);
      }
    }
  }
}

TEST(Loader, DropLastAndShardedEpochSize) {
  CountingSource src(100);
  LoaderOptions o;
  o.batch_size = 8;
  o.world = 3;
  o.rank = 2;
  o.drop_last = true;
  Loader loader(src, o);
  loader.start_epoch(0);
  EXPECT_EQ(loader.samples_per_epoch(), 34u);
  EXPECT_EQ(loader.batches_per_epoch(), 4u);
  Batch b;
  size_t batches = 0;
  while (loader.next(b)) {
    EXPECT_EQ(b.count(), 8);
    ++batches;
  }
  EXPECT_EQ(batches, 4u);
}

TEST(Loader, WorkerErrorReachesNextAndEndsTheEpoch) {
  for (int workers : {0, 2}) {
    CountingSource src(64, 17);
    LoaderOptions o;
    o.batch_size = 8;
    o.shuffle = false;
    o.workers = workers;
    Loader loader(src, o);
    loader.start_epoch(0);
    Batch b;
    EXPECT_TRUE(loader.next(b));
    EXPECT_TRUE(loader.next(b));
    try {
      loader.next(b);
      FAIL() << "expected the worker's error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("sample 17"), std::string::npos);
    }
    if (workers > 0) {
      EXPECT_FALSE(loader.next(b));
    }
    // A new epoch starts cleanly after the failure (the source still fails at 17, later).
    loader.start_epoch(1);
    EXPECT_TRUE(loader.next(b));
  }
}

TEST(Loader, ShutdownMidEpochDoesNotHang) {
  CountingSource src(10000, SIZE_MAX, true);
  LoaderOptions o;
  o.batch_size = 32;
  o.workers = 3;
  o.prefetch_batches = 2;
  auto start = std::chrono::steady_clock::now();
  {
    Loader loader(src, o);
    loader.start_epoch(0);
    Batch b;
    ASSERT_TRUE(loader.next(b));
    loader.start_epoch(1);  // restart mid-epoch
    ASSERT_TRUE(loader.next(b));
  }  // destroyed with workers blocked on a full queue
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Loader, NoNanInBatches) {
  CountingSource src(50);
  LoaderOptions o;
  o.batch_size = 7;
  for (const Batch& b : run_epoch(src, o, 0))
    for (float v : b.images) ASSERT_TRUE(std::isfinite(v));
}

std::atomic<int> hook_allocations{0};
void* counting_alloc(size_t bytes) {
  ++hook_allocations;
  return std::aligned_alloc(64, bytes);
}
void counting_free(void* p) { std::free(p); }

TEST(Loader, HostMemoryHookAllocatesBatchImages) {
  CountingSource src(40);
  LoaderOptions o;
  o.batch_size = 8;
  o.host_memory.allocate = counting_alloc;
  o.host_memory.release = counting_free;
  hook_allocations = 0;
  auto batches = run_epoch(src, o, 0);
  EXPECT_EQ(batches.size(), 5u);
  EXPECT_GT(hook_allocations.load(), 0);
}

TEST(Loader, BadOptionsAreUsageErrors) {
  CountingSource src(4);
  LoaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(Loader(src, o), UsageError);
  o.batch_size = 2;
  o.workers = -1;
  EXPECT_THROW(Loader(src, o), UsageError);
}

}  // namespace
}  // namespace dasnet
