#include "tools/run_options.h"

#include <omp.h>

#include <cstdio>

#include "core/rng.h"
#include "core/usage_error.h"
#include "io/dataset.h"
#include "io/synthetic_images.h"
#include "kernels/backend_factory.h"
#include "tools/flag_checks.h"

namespace dasnet {

void ModelOptions::add_to(CLI::App* app) {
  app->add_option("--depth", config.depth,
                  "ResNet depth: 6n+2 for basic blocks (2, 8, 14, 20, 26, 32, ...), 9n+2 for bottleneck")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--block", block, "Residual block type: basic or bottleneck")->capture_default_str();
  app->add_option("--width", config.width, "Channels of the first stage (stages use w, 2w, 4w)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--bottleneck-width", config.bottleneck_width,
                  "Bottleneck blocks: inner width of stage 1 (doubles per stage); 0 = width/4")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  app->add_option("--channels", config.in_channels, "Image channels: 1 (grayscale) or 3 (RGB)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--image-height", config.height, "Image height = fiber channels per patch (synthetic set)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--image-width", config.image_width, "Image width = time samples per patch (synthetic set)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--outputs,-K", config.outputs, "Neurons in the final layer (K)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--output-mode", output_mode,
                  "auto (K=1 sigmoid+BCE, K>=2 softmax+CE), sigmoid, softmax or multilabel (K sigmoids)")
      ->capture_default_str();
  app->add_flag("--no-fuse", no_fuse, "Run BN, add and ReLU as separate layers (for comparison)");
}

ModelConfig ModelOptions::resolve() const {
  ModelConfig c = config;
  c.block = parse_block_type(block);
  c.mode = parse_output_mode(output_mode, c.outputs);
  c.fuse = !no_fuse;
  c.validate();
  return c;
}

void BackendOptions::add_to(CLI::App* app) {
  app->add_option("--backend", backend, "cpu (oneDNN fast path), reference (plain loops) or cuda")->capture_default_str();
  app->add_option("--precision", precision,
                  "--backend cuda: fp32 (default), tf32 (tensor-core convolutions and matrix products), bf16 "
                  "(bf16 activations, fp32 parameters and statistics; A100 and newer) or fp16 (the same in fp16 with "
                  "dynamic loss scaling; V100 and newer). --backend cpu: fp32 (default) or bf16 (the convolutions read bf16 "
                  "inputs and weights and accumulate in fp32, everything else fp32; needs a CPU with AVX512_BF16). "
                  "--backend reference: fp32 only");
  app->add_option("--threads", threads, "CPU threads (0 = all cores; more than the cores are capped to them)")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
}

int capped_thread_count(int requested) {
  // More threads than cores never speed up a compute-bound step, and libgomp crashes when asked
  // for tens of thousands.
  const int cores = omp_get_num_procs();
  if (requested <= cores) return requested;
  std::fprintf(stderr, "dasnet: --threads %d is more than the %d cores this process may use: using %d\n", requested,
               cores, cores);
  return cores;
}

std::unique_ptr<Backend> BackendOptions::create() const {
  if (threads > 0) omp_set_num_threads(capped_thread_count(threads));
  return make_backend(parse_backend_kind(backend), precision);
}

void DataOptions::add_to(CLI::App* app) {
  app->add_option("--data", path, "Data set file from 'dasnet dataset build' (default: built-in synthetic set)");
  app->add_option("--synthetic-per-class", synthetic_per_class,
                  "Built-in synthetic set: training images per class (validation gets 15% of that)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  app->add_option("--synthetic-seed", synthetic_seed, "Built-in synthetic set: seed")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
}

std::unique_ptr<DataSource> DataOptions::open(const std::string& split, const ModelConfig& model) const {
  if (!path.empty()) return open_dataset(path, split);
  if (synthetic_per_class <= 0)
    throw UsageError("--synthetic-per-class must be positive, got " + std::to_string(synthetic_per_class));
  size_t per_class = size_t(synthetic_per_class);
  if (split == "val" || split == "test") per_class = std::max<size_t>(1, per_class * 15 / 70);
  uint64_t stream = split == "train" ? 0 : split == "val" ? 1 : 2;
  return std::make_unique<SyntheticImages>(2 * per_class, Shape{1, model.in_channels, model.height, model.image_width},
                                           derive_seed(synthetic_seed, stream));
}

std::string DataOptions::describe() const {
  return path.empty() ? "built-in synthetic set (sloped stripes vs white noise)" : path;
}

}  // namespace dasnet
