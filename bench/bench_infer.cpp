// Inference throughput of usable-energy maps on the CPU: a synthetic int16 record (PRODML) is
// mapped by a ResNet of the study's shape with non-overlapping 200 x 200 windows (as the study
// did), reporting MB/s of raw int16 data and windows (samples) per second, reading included.
// With --torch, the same model's forward in PyTorch (bench/torch_train.py --mode infer) runs in
// the same process group for comparison (model only: no file reading, no scaling).
// Usage: bench_infer [--depth 14] [--channels 500] [--seconds 60] [--batch 64] [--threads 0]
//                    [--stride 200] [--torch]
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/backend.h"
#include "infer/probability_map.h"
#include "io/synth_file.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"

int main(int argc, char** argv) {
  using namespace dasnet;
  int depth = 14, channels = 500, batch = 64, threads = 0, stride = 200;
  double seconds = 60;
  bool torch = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_infer: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--depth") depth = std::atoi(next());
    else if (a == "--channels") channels = std::atoi(next());
    else if (a == "--seconds") seconds = std::atof(next());
    else if (a == "--batch") batch = std::atoi(next());
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--stride") stride = std::atoi(next());
    else if (a == "--torch") torch = true;
    else {
      std::fprintf(stderr, "bench_infer: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (threads > 0) omp_set_num_threads(threads);
  const std::string record = (std::filesystem::temp_directory_path() / "dasnet_bench_infer.h5").string();
  SynthOptions synth;
  synth.channels = channels;
  synth.duration_s = seconds;
  synth.seed = 5;
  write_synthetic_record(record, synth, random_scene(synth), SynthWriteOptions{});

  ModelConfig model;
  model.depth = depth;
  model.height = model.image_width = 200;
  model.validate();
  auto backend = make_backend(BackendKind::Cpu);
  auto net = build_resnet(model, *backend, 1);
  InferOptions options;
  options.batch_size = batch;
  options.stride_channels = options.stride_samples = stride;
  infer_probability_map(*net, model, record, options);  // warm-up: plans memory, loads the file cache
  ProbabilityMap map = infer_probability_map(*net, model, record, options);
  std::printf("{\"engine\": \"dasnet\", \"depth\": %d, \"threads\": %d, \"record\": \"%d x %zu int16\", "
              "\"windows\": %zu, \"seconds\": %.3f, \"mb_per_s\": %.2f, \"samples_per_s\": %.1f}\n",
              depth, omp_get_max_threads(), channels, map.record_samples, map.windows, map.seconds,
              map.raw_bytes / 1e6 / map.seconds, map.windows / map.seconds);
  std::fflush(stdout);
  std::filesystem::remove(record);
  if (torch) {
    const std::string script = std::string(DASNET_BENCH_SOURCE_DIR) + "/bench/torch_train.py";
    const std::string command = "python3 " + script + " --mode infer --depth " + std::to_string(depth) +
                                " --batch " + std::to_string(batch) + " --size 200 --steps 5" +
                                (threads > 0 ? " --threads " + std::to_string(threads) : std::string());
    if (std::system(command.c_str()) != 0) std::fprintf(stderr, "bench_infer: PyTorch comparison failed: %s\n", command.c_str());
  }
  return 0;
}
