#include "io/checkpoint.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "dasnet/build_config.h"
#include "io/hdf5_util.h"
#include "io/input_path.h"

namespace dasnet {

namespace {
constexpr const char* kFormat = "dasnet-checkpoint";
// 1: flat /parameters and /state arrays. 2: one data set per tensor under /model (PyTorch's
// names and shapes, plus num_batches_tracked per batchnorm) and /optimizer/velocity.
constexpr int64_t kVersion = 2;
constexpr const char* kRunningMean = ".running_mean";

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw std::runtime_error("checkpoint " + path + ": " + problem);
}

void write_floats(hid_t file, const std::string& name, const std::vector<float>& values) {
  h5::Handle ds = h5::create_dataset(file, name, H5T_IEEE_F32LE, {hsize_t(values.size())});
  if (!values.empty()) h5::write_box(ds, H5T_NATIVE_FLOAT, values.data(), {0}, {hsize_t(values.size())});
}

size_t element_count(const std::vector<size_t>& shape) {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

// Writes `values` as one data set per tensor of `layout` into `group`.
void write_tensors(hid_t group, const std::vector<NamedShape>& layout, const std::vector<float>& values,
                   const std::string& path, const char* what) {
  size_t total = 0;
  for (const NamedShape& t : layout) total += element_count(t.shape);
  if (total != values.size())
    fail(path, std::string("the ") + what + " layout names " + std::to_string(total) + " values, there are " +
                   std::to_string(values.size()));
  size_t offset = 0;
  for (const NamedShape& t : layout) {
    const size_t count = element_count(t.shape);
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    h5::Handle ds = h5::create_dataset(group, t.name, H5T_IEEE_F32LE, dims);
    if (count > 0) h5::write_box(ds, H5T_NATIVE_FLOAT, values.data() + offset, std::vector<hsize_t>(dims.size(), 0), dims);
    offset += count;
  }
}

std::vector<std::string> names_of(const std::vector<NamedShape>& layout) {
  std::vector<std::string> names;
  for (const NamedShape& t : layout) names.push_back(t.name);
  return names;
}

// PyTorch's BatchNorm2d buffer: an int64 scalar beside each layer's running statistics.
void write_batches_tracked(hid_t group, const std::vector<NamedShape>& state_layout, long batches,
                           const std::string& path) {
  const std::string suffix = kRunningMean;
  const int64_t value = batches;
  for (const NamedShape& t : state_layout) {
    if (t.name.size() <= suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string name = t.name.substr(0, t.name.size() - suffix.size()) + ".num_batches_tracked";
    h5::Handle ds = h5::create_dataset(group, name, H5T_STD_I64LE, {});
    if (H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0)
      fail(path, "cannot write /model/" + name);
  }
}

std::vector<float> read_floats(const h5::File& file, const std::string& name) {
  const std::string& path = file.path();
  if (!file.exists(name)) fail(path, "missing dataset /" + name);
  const h5::Node ds = file.dataset(name);
  auto dims = ds.shape();
  if (dims.size() != 1) fail(path, "/" + name + " is not 1-D");
  std::vector<float> values(dims[0]);
  if (!values.empty()) ds.read_box(H5T_NATIVE_FLOAT, values.data(), {0}, {dims[0]});
  for (float v : values)
    if (!std::isfinite(v)) fail(path, "/" + name + " holds NaN or Inf");
  return values;
}

// Reads the tensors named in the string list /<names_dataset> from `group`, in that order, into
// one flat array; `layout` gets each one's name and shape.
std::vector<float> read_tensors(const h5::File& file, const std::string& names_dataset, const std::string& group,
                                std::vector<NamedShape>& layout) {
  const std::string& path = file.path();
  if (!file.exists(names_dataset)) fail(path, "missing dataset /" + names_dataset);
  std::vector<float> values;
  for (const std::string& name : file.dataset(names_dataset).read_strings()) {
    const std::string object = group + "/" + name;
    if (!file.is_dataset(object)) fail(path, "missing dataset /" + object + " (listed in /" + names_dataset + ")");
    const h5::Node ds = file.dataset(object);
    const std::vector<hsize_t> dims = ds.shape();
    NamedShape tensor{name, std::vector<size_t>(dims.begin(), dims.end())};
    const size_t offset = values.size();
    values.resize(offset + element_count(tensor.shape));
    if (values.size() > offset)
      ds.read_box(H5T_NATIVE_FLOAT, values.data() + offset, std::vector<hsize_t>(dims.size(), 0), dims);
    for (size_t i = offset; i < values.size(); ++i)
      if (!std::isfinite(values[i])) fail(path, "/" + object + " holds NaN or Inf");
    layout.push_back(std::move(tensor));
  }
  return values;
}

// The flat arrays of format version 1 (kept readable: checkpoints of earlier runs).
void read_version_1_tensors(const h5::File& file, TrainingState& s) {
  s.params = read_floats(file, "parameters");
  s.state = read_floats(file, "state");
  s.velocity = read_floats(file, "optimizer/velocity");
}

void read_version_2_tensors(const h5::File& file, TrainingState& s) {
  s.params = read_tensors(file, "parameter_names", "model", s.parameter_layout);
  s.state = read_tensors(file, "state_names", "model", s.state_layout);
  std::vector<NamedShape> velocity_layout;
  s.velocity = read_tensors(file, "parameter_names", "optimizer/velocity", velocity_layout);
  const h5::Node root = file.group("/");
  if (root.has_attr("batches_trained")) s.batches_trained = long(root.attr_int64("batches_trained"));
}
}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& s) {
  h5::write_file_atomically(path, [&](hid_t file) {
    h5::set_attr(file, "format", std::string(kFormat));
    h5::set_attr(file, "format_version", kVersion);
    h5::set_attr(file, "dasnet_version", std::string(DASNET_VERSION));
    h5::set_attr(file, "epochs_done", int64_t(s.epochs_done));
    h5::set_attr(file, "batches_trained", int64_t(s.batches_trained));
    h5::set_attr(file, "model_config", s.model.to_json());
    h5::set_attr(file, "train_config", s.train.to_json());
    // The only randomness left after initialization is the shuffle, a function of (seed, epoch).
    h5::set_attr(file, "rng", nlohmann::json{{"shuffle_seed", s.train.seed}, {"next_epoch", s.epochs_done}}.dump());
    {
      h5::Handle model = h5::create_group(file, "model");
      write_tensors(model, s.parameter_layout, s.params, path, "parameter");
      write_tensors(model, s.state_layout, s.state, path, "state");
      write_batches_tracked(model, s.state_layout, s.batches_trained, path);
    }
    h5::write_strings(file, "parameter_names", names_of(s.parameter_layout));
    h5::write_strings(file, "state_names", names_of(s.state_layout));
    h5::Handle group = h5::create_group(file, "optimizer");
    h5::Handle velocity = h5::create_group(group, "velocity");
    write_tensors(velocity, s.parameter_layout, s.velocity, path, "velocity");
    if (!s.backend_optimizer_state.empty()) {  // fp16 loss scaling: scale, clean steps, skipped steps
      const auto& v = s.backend_optimizer_state;
      h5::Handle ds = h5::create_dataset(group, "backend_state", H5T_IEEE_F64LE, {hsize_t(v.size())});
      h5::write_box(ds, H5T_NATIVE_DOUBLE, v.data(), {0}, {hsize_t(v.size())});
    }
  });
}

TrainingState load_checkpoint(const std::string& path) {
  h5::silence_errors();
  require_input_path(path);
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file (corrupt or truncated?)");
  const h5::File file(path);
  const h5::Node root = file.group("/");
  for (const char* attr : {"format", "format_version", "epochs_done", "model_config", "train_config"})
    if (!root.has_attr(attr)) fail(path, std::string("missing attribute ") + attr);
  if (root.attr_string("format") != kFormat) fail(path, "not a dasnet checkpoint");
  const int64_t version = root.attr_int64("format_version");
  if (version != 1 && version != kVersion)
    fail(path, "format version " + std::to_string(version) + " is not supported (this dasnet reads 1 and " +
                   std::to_string(kVersion) + ")");
  TrainingState s;
  try {
    s.model = ModelConfig::from_json(root.attr_string("model_config"));
    s.train = TrainConfig::from_json(root.attr_string("train_config"));
  } catch (const std::exception& e) {
    fail(path, e.what());
  }
  // A huge or negative count would resume into nonsense (no epoch left, or a schedule far past its end).
  const int64_t epochs_done = root.attr_int64("epochs_done");
  if (epochs_done < 0 || epochs_done > s.train.epochs)
    fail(path, "attribute epochs_done = " + std::to_string(epochs_done) + " is outside 0.." +
                   std::to_string(s.train.epochs) + " (the epochs of its train_config)");
  s.epochs_done = int(epochs_done);
  if (version == 1) read_version_1_tensors(file, s);
  else read_version_2_tensors(file, s);
  if (file.exists("optimizer/backend_state")) {
    s.backend_optimizer_state = file.dataset("optimizer/backend_state").read_numbers(64);
    for (double v : s.backend_optimizer_state)
      if (!std::isfinite(v)) fail(path, "/optimizer/backend_state holds NaN or Inf");
  }
  if (s.velocity.size() != s.params.size()) fail(path, "optimizer state does not match the parameters");
  return s;
}

bool checkpoint_is_readable(const std::string& path) {
  try {
    load_checkpoint(path);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace dasnet

namespace dasnet {

std::string checkpoint_path(const std::string& dir, int epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch_%04d.h5", epoch);
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace dasnet
