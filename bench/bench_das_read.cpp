// Read throughput of the DAS readers as the data-set builder uses them: read a large PRODML
// file (int16, time x channel, chunked like Silixa's) window by window, cut 200 x 200 patches
// and min-max normalize each to [0, 1]. Reports MB/s of raw (stored int16) data.
//
// usage: bench_das_read [size_mb (default 200)] [existing DAS file instead of a generated one]
// The last lines are machine-readable: das_read_only_s=<reading alone as float32 channel-major,
// best of the passes>, das_read_stored_s=<read_das_stored: the file's type and order>,
// das_inspect_s=<inspect_das alone: detection and metadata, the fixed part of every read>,
// das_read_mb_per_s=<x> (bench/bench_read_vs_dascore.py compares the first with DASCore).
// DASNET_BENCH_PASSES=N reads the file N times (default 1) and keeps the fastest pass.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/das_formats.h"
// The benchmark is one source file by the build's convention, so it compiles the fixture
// writer in rather than linking the test executable.
#include "tests/das_fixtures.cpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr size_t kPatch = 200;

// Min-max normalizes every whole 200 x 200 patch of `rec` into `out`; returns the patch count.
size_t normalize_patches(const dasnet::DasRecord& rec, std::vector<float>& out, double& checksum) {
  size_t count = 0;
  out.resize(kPatch * kPatch);
  for (size_t c0 = 0; c0 + kPatch <= rec.num_channels; c0 += kPatch) {
    for (size_t t0 = 0; t0 + kPatch <= rec.num_samples; t0 += kPatch) {
      float lo = rec.at(c0, t0), hi = lo;
      for (size_t c = 0; c < kPatch; ++c) {
        const float* row = rec.data.data() + (c0 + c) * rec.num_samples + t0;
        for (size_t t = 0; t < kPatch; ++t) {
          lo = std::min(lo, row[t]);
          hi = std::max(hi, row[t]);
        }
      }
      const float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
      for (size_t c = 0; c < kPatch; ++c) {
        const float* row = rec.data.data() + (c0 + c) * rec.num_samples + t0;
        float* dst = out.data() + c * kPatch;
        for (size_t t = 0; t < kPatch; ++t) dst[t] = (row[t] - lo) * scale;
      }
      checksum += out[kPatch * kPatch / 2];
      ++count;
    }
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  const double size_mb = argc > 1 ? std::atof(argv[1]) : 200.0;
  std::string path = argc > 2 ? argv[2] : "";
  std::string scratch;
  if (path.empty()) {
    dasnet::fixtures::Spec spec;
    spec.channels = 1000;
    spec.samples = static_cast<size_t>(size_mb * 1e6 / (spec.channels * sizeof(int16_t)));
    spec.rate_hz = 500;
    scratch = dasnet::fixtures::make_temp_dir("bench-read");
    path = scratch + "/large_prodml.h5";
    const auto t0 = Clock::now();
    dasnet::fixtures::write_prodml(path, spec, "2.0", true, 1024);
    std::printf("wrote %s (%zu channels x %zu samples, int16, chunks of 1024 rows) in %.2f s\n", path.c_str(),
                spec.channels, spec.samples, seconds_since(t0));
  }

  const dasnet::DasInfo info = dasnet::inspect_das(path);
  const double raw_mb = info.num_channels * info.num_samples *
                        (info.raw_type == "int16" ? 2.0 : info.raw_type == "float64" ? 8.0 : 4.0) / 1e6;
  // Windows of all channels x a whole number of patches along time, ~64 MB of float each.
  const size_t cols = std::max<size_t>(1, (size_t{64} << 20) / (info.num_channels * kPatch * sizeof(float)));
  const size_t window_samples = cols * kPatch;

  std::vector<float> patch;
  const char* passes_env = std::getenv("DASNET_BENCH_PASSES");
  const int passes = passes_env ? std::max(1, std::atoi(passes_env)) : 1;
  double checksum = 0, read_s = 0, total_s = 0, best_read_only_s = 1e300, best_stored_s = 1e300,
         best_inspect_s = 1e300;
  size_t patches = 0;
  for (int pass = 0; pass < passes; ++pass) {
    checksum = 0, read_s = 0, patches = 0;
    const auto t0 = Clock::now();
    for (size_t first = 0; first + kPatch <= info.num_samples; first += window_samples) {
      dasnet::ReadWindow w;
      w.first_sample = first;
      w.num_samples = std::min(window_samples, (info.num_samples - first) / kPatch * kPatch);
      const auto r0 = Clock::now();
      const dasnet::DasRecord rec = dasnet::read_das(path, w);
      read_s += seconds_since(r0);
      patches += normalize_patches(rec, patch, checksum);
    }
    total_s = seconds_since(t0);
    // The whole record in one read, as dascore.read returns it (the comparison's measure).
    const auto r0 = Clock::now();
    const dasnet::DasRecord whole = dasnet::read_das(path);
    best_read_only_s = std::min(best_read_only_s, seconds_since(r0));
    checksum += whole.data.empty() ? 0 : whole.data[whole.data.size() / 2];
    // Opening alone (detection and metadata, no samples): the fixed cost of every read.
    const auto i0 = Clock::now();
    checksum += static_cast<double>(dasnet::inspect_das(path).num_samples % 7);
    best_inspect_s = std::min(best_inspect_s, seconds_since(i0));
    // The same record as stored (file's type and axis order): the work dascore.read does.
    const auto s0 = Clock::now();
    const dasnet::DasRecord stored = dasnet::read_das_stored(path);
    best_stored_s = std::min(best_stored_s, seconds_since(s0));
    checksum += stored.stored.empty() ? 0 : stored.stored[stored.stored.size() / 2];
  }
  std::printf("%s: %s %zu x %zu, %.1f MB raw\n", path.c_str(), info.format.c_str(), info.num_channels,
              info.num_samples, raw_mb);
  std::printf("read only: %.4f s (%.1f MB/s); read + %zu patches normalized: %.4f s (checksum %.3f)\n", read_s,
              raw_mb / read_s, patches, total_s, checksum);
  std::printf("das_read_only_s=%.6f\n", best_read_only_s);
  std::printf("das_read_stored_s=%.6f\n", best_stored_s);
  std::printf("das_inspect_s=%.6f\n", best_inspect_s);
  if (!scratch.empty()) std::filesystem::remove_all(scratch);
  std::printf("das_read_mb_per_s=%.1f\n", raw_mb / total_s);
  return 0;
}
