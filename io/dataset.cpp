#include "io/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "core/rng.h"
#include "core/usage_error.h"
#include "io/das_source.h"
#include "io/hdf5_util.h"
#include "io/record_patches.h"

namespace dasnet {

namespace {

using h5::Handle;

// Random streams of a build.
enum Stream : uint64_t { kWindowOrder = 1, kSlots = 2, kSplitOrder = 3, kOrigins = 4, kPatchOrder = 5 };

// One split's open datasets while building.
struct SplitWriter {
  Handle group, images, labels, source_index, channel, sample;
  size_t size = 0;
};

SplitWriter create_split(hid_t file, const std::string& name, size_t n, int c, int h, int w, int deflate) {
  SplitWriter s;
  s.size = n;
  s.group = h5::create_group(file, name);
  const hsize_t hn = n;
  s.images = h5::create_dataset(s.group, "images", H5T_STD_U8LE, {hn, hsize_t(c), hsize_t(h), hsize_t(w)},
                                    {1, hsize_t(c), hsize_t(h), hsize_t(w)}, deflate);
  s.labels = h5::create_dataset(s.group, "labels", H5T_STD_I32LE, {hn}, {4096}, deflate);
  s.source_index = h5::create_dataset(s.group, "source_index", H5T_STD_I32LE, {hn}, {4096}, deflate);
  s.channel = h5::create_dataset(s.group, "channel", H5T_STD_I64LE, {hn}, {4096}, deflate);
  s.sample = h5::create_dataset(s.group, "sample", H5T_STD_I64LE, {hn}, {4096}, deflate);
  return s;
}

// Where the j-th kept patch of class k goes: (split, index in the split).
struct SlotPlan {
  size_t per_split[3];
  std::vector<std::vector<size_t>> class_slot;  // per class: arrival order -> slot in [0, per_class)
  std::vector<std::vector<size_t>> split_order; // per split: class * per_split + slot-in-split -> index
  std::pair<int, size_t> place(int cls, size_t arrival) const {
    size_t slot = class_slot[size_t(cls)][arrival];
    for (int s = 0; s < 3; ++s) {
      if (slot < per_split[s]) return {s, split_order[size_t(s)][size_t(cls) * per_split[s] + slot]};
      slot -= per_split[s];
    }
    throw std::logic_error("slot outside the splits");
  }
};

SlotPlan plan_slots(const DatasetBuildOptions& o, size_t classes) {
  SlotPlan p;
  const size_t n = o.per_class;
  p.per_split[0] = size_t(std::llround(double(n) * o.train_fraction));
  p.per_split[1] = std::min(n - p.per_split[0], size_t(std::llround(double(n) * o.val_fraction)));
  p.per_split[2] = n - p.per_split[0] - p.per_split[1];
  for (size_t k = 0; k < classes; ++k) p.class_slot.push_back(permutation(n, derive_seed(o.seed, kSlots * 100 + k)));
  for (int s = 0; s < 3; ++s)
    p.split_order.push_back(permutation(classes * p.per_split[s], derive_seed(o.seed, kSplitOrder * 100 + s)));
  return p;
}

std::string type_description(hid_t dataset) {
  Handle t(H5Dget_type(dataset));
  const char* sign = H5Tget_sign(t) == H5T_SGN_NONE ? "unsigned " : "";
  switch (H5Tget_class(t)) {
    case H5T_INTEGER: return std::string(sign) + std::to_string(8 * H5Tget_size(t)) + "-bit integer";
    case H5T_FLOAT: return std::to_string(8 * H5Tget_size(t)) + "-bit float";
    case H5T_STRING: return "string";
    default: return "non-numeric type";
  }
}

bool is_integer_type(hid_t dataset, size_t bytes, bool is_signed) {
  Handle t(H5Dget_type(dataset));
  return H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == bytes &&
         (H5Tget_sign(t) == H5T_SGN_2) == is_signed;
}

// Opens the file and checks it is a data set of the schema this code reads.
std::unique_ptr<h5::File> open_checked(const std::string& path) {
  auto file = std::make_unique<h5::File>(path);
  const h5::Node root = file->group("/");
  if (!root.has_attr("schema_version"))
    throw std::runtime_error(path + ": not a dasnet data set (no 'schema_version' attribute)");
  int64_t version = root.attr_int64("schema_version");
  if (version != kDatasetSchemaVersion)
    throw std::runtime_error(path + ": schema_version " + std::to_string(version) + ", this dasnet reads " +
                             std::to_string(kDatasetSchemaVersion) + " (rebuild the data set)");
  return file;
}

class DatasetSource : public DataSource {
 public:
  DatasetSource(const std::string& path, const std::string& split, bool in_memory) : path_(path) {
    file_ = open_checked(path);
    if (!file_->exists(split)) {
      std::string have;
      for (const auto& s : dataset_splits())
        if (file_->exists(s)) have += (have.empty() ? "" : ", ") + s;
      throw std::runtime_error(path + ": no split '" + split + "' (has: " + (have.empty() ? "none" : have) + ")");
    }
    class_names_ = file_->group("/").attr_strings("class_names");
    file_->group(split);  // a split that is not a group fails here, naming it
    images_.emplace(file_->dataset(split + "/images"));
    const h5::Node labels = file_->dataset(split + "/labels");
    const std::string field = path + ": /" + split;
    if (!is_integer_type(images_->id(), 1, false))
      throw std::runtime_error(field + "/images: dtype must be uint8, found " + type_description(images_->id()));
    if (!is_integer_type(labels.id(), 4, true))
      throw std::runtime_error(field + "/labels: dtype must be int32, found " + type_description(labels.id()));
    auto dims = images_->shape();
    if (dims.size() != 4 || dims[1] == 0 || dims[2] == 0 || dims[3] == 0)
      throw std::runtime_error(field + "/images: must be N x C x H x W");
    auto label_dims = labels.shape();
    if (label_dims.size() != 1 || label_dims[0] != dims[0])
      throw std::runtime_error(field + "/labels: " + std::to_string(label_dims.empty() ? 0 : label_dims[0]) +
                               " labels for " + std::to_string(dims[0]) + " images");
    images_->require_all_elements_stored();
    labels.require_all_elements_stored();
    n_ = dims[0];
    shape_.c = int(dims[1]);
    shape_.h = int(dims[2]);
    shape_.w = int(dims[3]);
    labels_.resize(n_);
    if (n_) labels.read_box(H5T_NATIVE_INT32, labels_.data(), {0}, {n_});
    for (size_t i = 0; i < n_; ++i)
      if (labels_[i] < 0 || size_t(labels_[i]) >= class_names_.size())
        throw std::runtime_error(field + "/labels[" + std::to_string(i) + "] = " + std::to_string(labels_[i]) +
                                 " outside the " + std::to_string(class_names_.size()) + " classes");
    if (in_memory) {
      bytes_.resize(n_ * shape_.per_sample());
      if (n_) images_->read_box(H5T_NATIVE_UINT8, bytes_.data(), {0, 0, 0, 0}, dims);
      images_.reset();
      file_.reset();
    }
  }

  size_t size() const override { return n_; }
  Shape sample_shape() const override { return shape_; }
  std::vector<std::string> class_names() const override { return class_names_; }

  void read(size_t index, float* image_chw, int* label) const override {
    if (index >= n_) throw std::out_of_range(path_ + ": sample " + std::to_string(index) + " of " + std::to_string(n_));
    const size_t per = shape_.per_sample();
    const uint8_t* src;
    std::vector<uint8_t> staged;
    if (!bytes_.empty()) {
      src = bytes_.data() + index * per;
    } else {
      staged.resize(per);
      std::lock_guard<std::mutex> lock(file_mutex());
      images_->read_box(H5T_NATIVE_UINT8, staged.data(), {index, 0, 0, 0},
                        {1, hsize_t(shape_.c), hsize_t(shape_.h), hsize_t(shape_.w)});
      src = staged.data();
    }
    // Multiply rather than look up: this loop vectorizes (the loader's hot path).
    const float scale = 1.0f / 255.0f;
    for (size_t i = 0; i < per; ++i) image_chw[i] = float(src[i]) * scale;
    *label = labels_[index];
  }

 private:
  // One lock for every file: the HDF5 library itself is not thread-safe.
  static std::mutex& file_mutex() {
    static std::mutex m;
    return m;
  }
  std::string path_;
  std::unique_ptr<h5::File> file_;
  std::optional<h5::Node> images_;  // points into *file_
  size_t n_ = 0;
  Shape shape_;
  std::vector<int32_t> labels_;
  std::vector<uint8_t> bytes_;
  std::vector<std::string> class_names_;
};

}  // namespace

const std::vector<std::string>& dataset_splits() {
  static const std::vector<std::string> s = {"train", "val", "test"};
  return s;
}

const std::vector<std::string>& dataset_classes() {
  static const std::vector<std::string> c = {"noise", "waves"};
  return c;
}

void DatasetBuildOptions::validate() const {
  if (records.empty()) throw UsageError("dataset build: no record files given");
  if (per_class < 1) throw UsageError("--per-class must be at least 1");
  if (patch_channels < 1 || patch_samples < 2) throw UsageError("--patch-channels/--patch-samples too small");
  if (!(train_fraction > 0) || val_fraction < 0 || train_fraction + val_fraction > 1 + 1e-9)
    throw UsageError("split fractions must satisfy train > 0, val >= 0, train + val <= 1");
  if (deflate_level < 0 || deflate_level > 9) throw UsageError("--deflate must be 0-9");
  if (rule.bins < 1) throw UsageError("--bins must be positive");
}

// The records' patch grids (a random origin per record, keeping the largest number of
// patches) and their windows. Records are the continuous runs of the files given (folders
// expanded, io/das_source.h), so no patch spans a gap or an overlap; --time and --distance
// narrow each run, and runs the window misses are left out.
struct RecordGrids {
  struct WindowRef {
    size_t grid, window;
  };
  std::vector<std::unique_ptr<RecordPatches>> grids;
  std::vector<WindowRef> windows;
  std::vector<std::string> files;  // the data set's /sources
  std::map<std::string, size_t> file_index;
};

RecordGrids open_record_grids(const DatasetBuildOptions& o, size_t h, size_t w, DatasetBuildReport& report) {
  RecordGrids out;
  out.files = expand_das_inputs(o.records);
  for (size_t k = 0; k < out.files.size(); ++k) out.file_index.emplace(out.files[k], k);
  const DasSeries series = order_series(out.files);
  if (!series.unreadable.empty()) throw std::runtime_error(series.unreadable.front());
  for (const SeriesBreak& b : series.breaks) report.breaks.push_back(b.describe());
  const ParsedSelection selection = parse_selection(o.selection);
  std::string missed;
  for (size_t f = 0; f < series.segments.size(); ++f) {
    std::optional<DasSource> record;
    try {
      record.emplace(series.segments[f].selected(selection));
    } catch (const UsageError& e) {
      missed = e.what();
      continue;
    }
    const DasInfo& info = record->info();
    require_raw_data(info, o.allow_processed, "--allow-processed");
    Rng origin(derive_seed(o.seed, kOrigins * 1000003 + f));
    size_t ch0 = info.num_channels >= h ? origin.below(info.num_channels % h + 1) : 0;
    size_t t0 = info.num_samples >= w ? origin.below(info.num_samples % w + 1) : 0;
    out.grids.push_back(std::make_unique<RecordPatches>(*record, h, w, ch0, t0));
    if (out.grids.back()->rows() * out.grids.back()->cols() == 0) {
      ++report.records_too_small;
      std::fprintf(stderr, "dasnet dataset: %s: %zu x %zu record is smaller than one %zu x %zu patch; skipped\n",
                   info.source.c_str(), info.num_channels, info.num_samples, h, w);
    }
    for (size_t k = 0; k < out.grids.back()->windows(); ++k) out.windows.push_back({out.grids.size() - 1, k});
  }
  if (out.grids.empty() && !missed.empty()) throw UsageError(missed);
  if (out.windows.empty()) throw std::runtime_error("dataset build: no record holds a full patch");
  return out;
}

DatasetBuildReport build_dataset(const std::string& output_path, const DatasetBuildOptions& o) {
  o.validate();
  DatasetBuildReport report;
  const size_t classes = dataset_classes().size();
  const int channels = image_channels(o.color), h = o.patch_channels, w = o.patch_samples;
  const size_t image_bytes = size_t(channels) * h * w;

  const RecordGrids grids = open_record_grids(o, size_t(h), size_t(w), report);
  const auto& windows = grids.windows;
  const auto window_order = permutation(windows.size(), derive_seed(o.seed, kWindowOrder));

  const SlotPlan plan = plan_slots(o, classes);
  h5::write_file_atomically(output_path, [&](hid_t file) {
    std::vector<SplitWriter> splits;
    for (int s = 0; s < 3; ++s)
      splits.push_back(create_split(file, dataset_splits()[size_t(s)], classes * plan.per_split[s], channels, h, w,
                                    o.deflate_level));
    std::vector<size_t> accepted(classes, 0);
    const size_t needed = classes * o.per_class;
    size_t total_accepted = 0;
    std::vector<uint8_t> image(image_bytes);
    std::vector<PatchVerdict> verdicts;
    std::vector<char> status;  // 0 ok, 1 constant, 2 non-finite
    PatchLabeler* labeler = nullptr;
    std::unique_ptr<PatchLabeler> labeler_owner;
    double labeler_rate = 0;

    for (size_t wi = 0; wi < window_order.size() && total_accepted < needed; ++wi) {
      const RecordGrids::WindowRef ref = windows[window_order[wi]];
      RecordPatches& grid = *grids.grids[ref.grid];
      grid.load_window(ref.window);
      if (!labeler || labeler_rate != grid.info().sampling_rate_hz) {
        labeler_rate = grid.info().sampling_rate_hz;
        labeler_owner = std::make_unique<PatchLabeler>(h, w, labeler_rate, o.rule);
        labeler = labeler_owner.get();
      }
      const size_t rows = grid.rows(), cols = grid.window_cols(), col0 = grid.window_first_col();
      const size_t count = rows * cols;
      verdicts.assign(count, PatchVerdict{});
      status.assign(count, 0);
#pragma omp parallel for schedule(dynamic)
      for (size_t k = 0; k < count; ++k) {
        const float* p = grid.patch(k / cols, col0 + k % cols);
        float lo, hi;
        if (!patch_range(p, grid.row_stride(), h, w, &lo, &hi)) status[k] = 2;
        else if (!(hi > lo)) status[k] = 1;
        else verdicts[k] = labeler->classify(p, grid.row_stride());
      }
      const auto patch_order = permutation(count, derive_seed(o.seed, kPatchOrder * 1000003 + wi));
      for (size_t k : patch_order) {
        if (total_accepted >= needed) break;
        if (status[k] == 2) {
          ++report.skipped_non_finite;
          continue;
        }
        if (status[k] == 1) {
          ++report.skipped_constant;
          continue;
        }
        ++report.scanned;
        const PatchLabel label = verdicts[k].label;
        ++report.label_counts[int(label)];
        const int cls = label == PatchLabel::noise ? 0 : label == PatchLabel::waves ? 1 : -1;
        if (cls < 0 || accepted[size_t(cls)] >= o.per_class) continue;
        const size_t row = k / cols, col = col0 + k % cols;
        patch_to_image(grid.patch(row, col), grid.row_stride(), h, w, o.color, image.data());
        const auto [split, index] = plan.place(cls, accepted[size_t(cls)]++);
        ++total_accepted;
        SplitWriter& sw = splits[size_t(split)];
        const hsize_t i = index;
        h5::write_box(sw.images, H5T_NATIVE_UINT8, image.data(), {i, 0, 0, 0},
                          {1, hsize_t(channels), hsize_t(h), hsize_t(w)});
        // Where the patch starts, in its file's channels and samples (it may run on into the
        // next file of a continuous folder).
        const DasSource::Location at = grid.source().locate(grid.patch_channel(row), grid.patch_sample(col));
        const int32_t label32 = cls, source32 = int32_t(grids.file_index.at(at.path));
        const int64_t ch = int64_t(at.channel), t = int64_t(at.sample);
        h5::write_box(sw.labels, H5T_NATIVE_INT32, &label32, {i}, {1});
        h5::write_box(sw.source_index, H5T_NATIVE_INT32, &source32, {i}, {1});
        h5::write_box(sw.channel, H5T_NATIVE_INT64, &ch, {i}, {1});
        h5::write_box(sw.sample, H5T_NATIVE_INT64, &t, {i}, {1});
      }
      if (o.progress) o.progress(total_accepted, needed, report.scanned);
    }
    for (size_t k = 0; k < classes; ++k)
      if (accepted[k] < o.per_class)
        throw std::runtime_error("dataset build: the records hold only " + std::to_string(accepted[k]) + " usable '" +
                                 dataset_classes()[k] + "' patches of the " + std::to_string(o.per_class) +
                                 " asked for (" + std::to_string(report.scanned) +
                                 " patches scanned); lower --per-class or add records");

    nlohmann::json params = {{"records", o.records},
                             {"per_class", o.per_class},
                             {"patch_channels", o.patch_channels},
                             {"patch_samples", o.patch_samples},
                             {"seed", o.seed},
                             {"train_fraction", o.train_fraction},
                             {"val_fraction", o.val_fraction},
                             {"color", image_color_name(o.color)},
                             {"deflate_level", o.deflate_level},
                             {"rule",
                              {{"saturation_std", o.rule.saturation_std},
                               {"noise_low_max_hz", o.rule.noise_low_max_hz},
                               {"noise_high_max_hz", o.rule.noise_high_max_hz},
                               {"waves_split_hz", o.rule.waves_split_hz},
                               {"waves_ratio", o.rule.waves_ratio},
                               {"bins", o.rule.bins}}}};
    h5::set_attr(file, "schema_version", kDatasetSchemaVersion);
    h5::set_attr(file, "format", "dasnet-dataset");
    h5::set_attr(file, "class_names", dataset_classes());
    h5::set_attr(file, "channels", int64_t(channels));
    h5::set_attr(file, "height", int64_t(h));
    h5::set_attr(file, "width", int64_t(w));
    h5::set_attr(file, "color", image_color_name(o.color));
    h5::set_attr(file, "seed", int64_t(o.seed));
    h5::set_attr(file, "per_class", int64_t(o.per_class));
    h5::set_attr(file, "build_parameters", params.dump());
    h5::set_attr(file, "scanned_patches", int64_t(report.scanned));
    h5::set_attr(file, "skipped_constant", int64_t(report.skipped_constant));
    h5::set_attr(file, "skipped_non_finite", int64_t(report.skipped_non_finite));
    for (int l = 0; l < kNumPatchLabels; ++l)
      h5::set_attr(file, std::string("scanned_") + patch_label_name(PatchLabel(l)), int64_t(report.label_counts[l]));
    h5::write_strings(file, "sources", grids.files);
    for (int s = 0; s < 3; ++s) report.split_sizes[s] = splits[size_t(s)].size;
  });
  return report;
}

DatasetSummary read_dataset_summary(const std::string& path) {
  const auto file = open_checked(path);
  const h5::Node root = file->group("/");
  DatasetSummary s;
  s.schema_version = root.attr_int64("schema_version");
  s.class_names = root.attr_strings("class_names");
  s.channels = int(root.attr_int64("channels"));
  s.height = int(root.attr_int64("height"));
  s.width = int(root.attr_int64("width"));
  s.color = root.attr_string("color");
  if (root.has_attr("build_parameters")) s.build_parameters = root.attr_string("build_parameters");
  if (file->exists("sources")) s.sources = file->dataset("sources").read_strings();
  for (const auto& split : dataset_splits()) {
    if (!file->exists(split)) continue;
    const h5::Node labels = file->dataset(split + "/labels");
    labels.require_all_elements_stored();
    auto dims = labels.shape();
    std::vector<int32_t> values(dims.empty() ? 0 : dims[0]);
    if (!values.empty()) labels.read_box(H5T_NATIVE_INT32, values.data(), {0}, {values.size()});
    std::vector<size_t> counts(s.class_names.size(), 0);
    for (int32_t v : values)
      if (v >= 0 && size_t(v) < counts.size()) ++counts[size_t(v)];
    s.splits.push_back(split);
    s.counts.push_back(counts);
  }
  return s;
}

void require_split_shapes(const std::string& path, const Shape& image) {
  const auto file = open_checked(path);
  auto text = [](hsize_t c, hsize_t h, hsize_t w) {
    return std::to_string(c) + " x " + std::to_string(h) + " x " + std::to_string(w);
  };
  const std::string wanted = text(hsize_t(image.c), hsize_t(image.h), hsize_t(image.w));
  for (const auto& split : dataset_splits()) {
    if (!file->exists(split + "/images")) continue;
    const auto dims = file->dataset(split + "/images").shape();
    if (dims.size() != 4) throw std::runtime_error(path + ": split '" + split + "': /" + split + "/images must be N x C x H x W");
    if (dims[1] != hsize_t(image.c) || dims[2] != hsize_t(image.h) || dims[3] != hsize_t(image.w))
      throw std::runtime_error(path + ": split '" + split + "': images are " + text(dims[1], dims[2], dims[3]) +
                               " (C x H x W), the model takes " + wanted);
  }
}

std::unique_ptr<DataSource> open_dataset(const std::string& path, const std::string& split, bool in_memory) {
  return std::make_unique<DatasetSource>(path, split, in_memory);
}

}  // namespace dasnet
