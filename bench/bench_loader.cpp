// Loader throughput: samples/s of 1 x 200 x 200 images delivered by the prefetching loader from a
// data set held in memory and from the data set file. Final lines:
//   loader_samples_per_s=<in memory>      loader_file_samples_per_s=<from the file>
#include <hdf5.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/rng.h"
#include "io/dataset.h"
#include "io/hdf5_util.h"
#include "io/loader.h"

using namespace dasnet;

namespace {

// A schema-1 data set of `n` random images (contents do not matter for throughput).
void write_bench_dataset(const std::string& path, size_t n) {
  h5::Handle f = h5::create_file(path);
  h5::set_attr(f, "schema_version", kDatasetSchemaVersion);
  h5::set_attr(f, "format", "dasnet-dataset");
  h5::set_attr(f, "class_names", dataset_classes());
  h5::Handle g = h5::create_group(f, "train");
  h5::Handle images = h5::create_dataset(g, "images", H5T_STD_U8LE, {n, 1, 200, 200}, {1, 1, 200, 200}, 1);
  h5::Handle labels = h5::create_dataset(g, "labels", H5T_STD_I32LE, {n});
  std::vector<uint8_t> bytes(n * 200 * 200);
  Rng rng(1);
  for (auto& b : bytes) b = uint8_t(rng.next_u64() >> 56);
  std::vector<int32_t> l(n);
  for (size_t i = 0; i < n; ++i) l[i] = int32_t(i % 2);
  H5Dwrite(images, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
  H5Dwrite(labels, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, l.data());
}

double measure(const DataSource& src, int workers, double seconds) {
  LoaderOptions o;
  o.batch_size = 128;
  o.workers = workers;
  o.prefetch_batches = 4;
  Loader loader(src, o);
  size_t samples = 0;
  double checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  for (int epoch = 0; elapsed < seconds; ++epoch) {
    loader.start_epoch(epoch);
    Batch b;
    while (loader.next(b)) {
      samples += size_t(b.count());
      checksum += b.images[0];
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (checksum < 0) std::printf("impossible\n");
  return double(samples) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? size_t(std::atol(argv[1])) : 4096;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  const std::string path = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") + "/dasnet_bench_loader.h5";
  write_bench_dataset(path, n);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  auto memory = open_dataset(path, "train", true);
  auto file = open_dataset(path, "train", false);
  double best_memory = 0, best_file = 0;
  for (int workers : {0, 1, 2, cores}) {
    const double m = measure(*memory, workers, seconds);
    const double f = measure(*file, workers, seconds / 2);
    std::printf("workers %d: in memory %.0f samples/s, from file %.0f samples/s\n", workers, m, f);
    best_memory = std::max(best_memory, m);
    best_file = std::max(best_file, f);
  }
  std::remove(path.c_str());
  std::printf("loader_samples_per_s=%.0f\n", best_memory);
  std::printf("loader_file_samples_per_s=%.0f\n", best_file);
  return 0;
}
