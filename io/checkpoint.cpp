#include "io/checkpoint.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "dasnet/build_config.h"
#include "io/hdf5_util.h"
#include "io/input_path.h"

namespace dasnet {

namespace {
constexpr const char* kFormat = "dasnet-checkpoint";
constexpr int64_t kVersion = 1;

void write_floats(hid_t file, const std::string& name, const std::vector<float>& values) {
  h5::Handle ds = h5::create_dataset(file, name, H5T_IEEE_F32LE, {hsize_t(values.size())});
  if (!values.empty()) h5::write_box(ds, H5T_NATIVE_FLOAT, values.data(), {0}, {hsize_t(values.size())});
}

std::vector<float> read_floats(const h5::File& file, const std::string& name) {
  const std::string& path = file.path();
  if (!file.exists(name)) throw std::runtime_error("checkpoint " + path + ": missing dataset /" + name);
  const h5::Node ds = file.dataset(name);
  auto dims = ds.shape();
  if (dims.size() != 1) throw std::runtime_error("checkpoint " + path + ": /" + name + " is not 1-D");
  std::vector<float> values(dims[0]);
  if (!values.empty()) ds.read_box(H5T_NATIVE_FLOAT, values.data(), {0}, {dims[0]});
  for (float v : values)
    if (!std::isfinite(v)) throw std::runtime_error("checkpoint " + path + ": /" + name + " holds NaN or Inf");
  return values;
}
}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& s) {
  h5::write_file_atomically(path, [&](hid_t file) {
    h5::set_attr(file, "format", std::string(kFormat));
    h5::set_attr(file, "format_version", kVersion);
    h5::set_attr(file, "dasnet_version", std::string(DASNET_VERSION));
    h5::set_attr(file, "epochs_done", int64_t(s.epochs_done));
    h5::set_attr(file, "model_config", s.model.to_json());
    h5::set_attr(file, "train_config", s.train.to_json());
    // The only randomness left after initialization is the shuffle, a function of (seed, epoch).
    h5::set_attr(file, "rng", nlohmann::json{{"shuffle_seed", s.train.seed}, {"next_epoch", s.epochs_done}}.dump());
    write_floats(file, "parameters", s.params);
    write_floats(file, "state", s.state);
    h5::Handle group = h5::create_group(file, "optimizer");
    write_floats(group, "velocity", s.velocity);
    if (!s.backend_optimizer_state.empty()) {  // fp16 loss scaling: scale, clean steps, skipped steps
      const auto& v = s.backend_optimizer_state;
      h5::Handle ds = h5::create_dataset(group, "backend_state", H5T_IEEE_F64LE, {hsize_t(v.size())});
      h5::write_box(ds, H5T_NATIVE_DOUBLE, v.data(), {0}, {hsize_t(v.size())});
    }
    h5::write_strings(file, "parameter_names", s.param_names);
  });
}

TrainingState load_checkpoint(const std::string& path) {
  h5::silence_errors();
  require_input_path(path);
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw std::runtime_error("checkpoint " + path + ": not an HDF5 file (corrupt or truncated?)");
  const h5::File file(path);
  const h5::Node root = file.group("/");
  for (const char* attr : {"format", "format_version", "epochs_done", "model_config", "train_config"})
    if (!root.has_attr(attr)) throw std::runtime_error("checkpoint " + path + ": missing attribute " + attr);
  if (root.attr_string("format") != kFormat)
    throw std::runtime_error("checkpoint " + path + ": not a dasnet checkpoint");
  if (root.attr_int64("format_version") != kVersion)
    throw std::runtime_error("checkpoint " + path + ": format version " +
                             std::to_string(root.attr_int64("format_version")) + " is not supported");
  TrainingState s;
  try {
    s.model = ModelConfig::from_json(root.attr_string("model_config"));
    s.train = TrainConfig::from_json(root.attr_string("train_config"));
  } catch (const std::exception& e) {
    throw std::runtime_error("checkpoint " + path + ": " + e.what());
  }
  // A huge or negative count would resume into nonsense (no epoch left, or a schedule far past its end).
  const int64_t epochs_done = root.attr_int64("epochs_done");
  if (epochs_done < 0 || epochs_done > s.train.epochs)
    throw std::runtime_error("checkpoint " + path + ": attribute epochs_done = " + std::to_string(epochs_done) +
                             " is outside 0.." + std::to_string(s.train.epochs) + " (the epochs of its train_config)");
  s.epochs_done = int(epochs_done);
  s.params = read_floats(file, "parameters");
  s.state = read_floats(file, "state");
  s.velocity = read_floats(file, "optimizer/velocity");
  if (file.exists("parameter_names")) s.param_names = file.dataset("parameter_names").read_strings();
  if (file.exists("optimizer/backend_state")) {
    s.backend_optimizer_state = file.dataset("optimizer/backend_state").read_numbers(64);
    for (double v : s.backend_optimizer_state)
      if (!std::isfinite(v)) throw std::runtime_error("checkpoint " + path + ": /optimizer/backend_state holds NaN or Inf");
  }
  if (s.velocity.size() != s.params.size())
    throw std::runtime_error("checkpoint " + path + ": optimizer state does not match the parameters");
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
