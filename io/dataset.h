// Data set files: balanced, labeled image patches cut from DAS records, in one HDF5 file.
//
// Layout (schema_version 1):
//   /                 attrs: schema_version (int64), format = "dasnet-dataset", class_names,
//                     channels, height, width, color, seed, per_class, build_parameters (JSON),
//                     scanned / skipped counts
//   /sources          record paths (strings); patches refer to them by index
//   /<split>/images   uint8 [n, C, H, W], chunked one image per chunk, deflate
//   /<split>/labels   int32 [n] (noise = 0, waves = 1)
//   /<split>/source_index int32 [n], /<split>/channel int64 [n], /<split>/sample int64 [n]:
//                     where each patch came from (first channel and first sample in the record)
// Splits are train, val and test.
//
// Build: each record gets a grid of non-overlapping patches at a random origin; windows of the
// grid (all files together) are visited in a seeded random order and the patches of a window in
// a seeded random order; each patch is labeled by the study's rule and the first per_class
// patches of each trained class are kept. Which split and position each kept patch takes is
// fixed up front from the seed, so patches stream to the file as they are found. Constant
// patches (max == min: nothing to scale) and patches with NaN/Inf samples are skipped and
// counted. If the records hold too few patches of a class the build fails naming the count.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/data_source.h"
#include "core/usage_error.h"
#include "io/das_selection.h"
#include "io/labeling.h"
#include "io/patch_image.h"

namespace dasnet {

constexpr int64_t kDatasetSchemaVersion = 1;
const std::vector<std::string>& dataset_splits();  // train, val, test
const std::vector<std::string>& dataset_classes();  // noise, waves

struct DatasetBuildOptions {
  std::vector<std::string> records;  // files or folders; contiguous files are read as one record
  DasSelection selection;            // --time / --distance, applied to every record
  size_t per_class = 1000;
  int patch_channels = 200, patch_samples = 200;
  uint64_t seed = 0;
  double train_fraction = 0.70, val_fraction = 0.15;  // test gets the rest
  ImageColor color = ImageColor::gray;
  LabelRule rule;
  int deflate_level = 4;
  bool allow_processed = false;  // processed products (FBE, PSD) are refused unless set
  // (accepted patches, needed patches, scanned patches), after each window.
  std::function<void(size_t, size_t, size_t)> progress;
  void validate() const;  // throws UsageError
};

struct DatasetBuildReport {
  size_t scanned = 0;                     // patches labeled
  size_t label_counts[kNumPatchLabels] = {};  // rule labels among the scanned patches
  size_t skipped_constant = 0, skipped_non_finite = 0;
  size_t records_too_small = 0;
  std::vector<std::string> breaks;  // gaps, overlaps and layout changes between the files, in words
  size_t split_sizes[3] = {};  // train, val, test (both classes)
};

DatasetBuildReport build_dataset(const std::string& output_path, const DatasetBuildOptions& options);

struct DatasetSummary {
  int64_t schema_version = 0;
  std::vector<std::string> class_names, sources, splits;
  int channels = 0, height = 0, width = 0;
  std::string color, build_parameters;
  std::vector<std::vector<size_t>> counts;  // per split, per class
};
DatasetSummary read_dataset_summary(const std::string& path);

// Checks that the images of every split of a data set file are C x H x W = `image` (the model's
// input); throws std::runtime_error naming the file and the split otherwise (a smaller
// validation split would be read past its end, a larger one scored meaninglessly).
void require_split_shapes(const std::string& path, const Shape& image);

// A split of a data set file as a DataSource (images as floats in [0, 1] = byte / 255). In
// memory: the uint8 images are loaded once (C*H*W bytes per sample). Otherwise each read goes to
// the file under a lock (the HDF5 library is not thread-safe). Bad files throw
// std::runtime_error naming the file and the field.
std::unique_ptr<DataSource> open_dataset(const std::string& path, const std::string& split, bool in_memory = true);

}  // namespace dasnet
