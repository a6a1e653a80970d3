// Flags shared by train, eval and predict: the model, the backend and the data.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/backend.h"
#include "core/data_source.h"
#include "models/model_config.h"

namespace dasnet {

struct ModelOptions {
  ModelConfig config;
  std::string block = "basic";
  std::string output_mode = "auto";
  bool no_fuse = false;
  void add_to(CLI::App* app);
  ModelConfig resolve() const;  // validated
};

struct BackendOptions {
  std::string backend = "cpu";
  std::string precision;  // empty: the backend's default
  int threads = 0;  // 0 = OpenMP's default
  void add_to(CLI::App* app);
  std::unique_ptr<Backend> create() const;  // also sets the OpenMP thread count
};

// `requested` (> 0), or the cores this process may run on when it asks for more (with a note on
// standard error).
int capped_thread_count(int requested);

// Where images come from: a data set file (dasnet dataset build) or the built-in synthetic set.
struct DataOptions {
  std::string path;
  int synthetic_per_class = 256;
  uint64_t synthetic_seed = 1;
  void add_to(CLI::App* app);
  // split: "train", "val" or "test"; image shape for the synthetic set from the model config.
  std::unique_ptr<DataSource> open(const std::string& split, const ModelConfig& model) const;
  std::string describe() const;
};

}  // namespace dasnet
