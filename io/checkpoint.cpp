#include "io/checkpoint.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "dasnet/build_config.h"
#include "io/h5util.h"

namespace dasnet {

namespace {
constexpr const char* kFormat = "dasnet-checkpoint";
constexpr int64_t kVersion = 1;

void write_floats(hid_t file, const std::string& name, const std::vector<float>& values) {
  h5util::Handle ds = h5util::create_dataset(file, name, H5T_IEEE_F32LE, {hsize_t(values.size())});
  if (!values.empty()) h5util::write_box(ds, H5T_NATIVE_FLOAT, values.data(), {0}, {hsize_t(values.size())});
}

std::vector<float> read_floats(hid_t file, const std::string& name, const std::string& path) {
  if (!h5util::exists(file, name)) throw std::runtime_error("checkpoint " + path + ": missing dataset /" + name);
  h5util::Handle ds = h5util::open_dataset(file, name, path);
  auto dims = h5util::dims_of(ds);
  if (dims.size() != 1) throw std::runtime_error("checkpoint " + path + ": /" + name + " is not 1-D");
  std::vector<float> values(dims[0]);
  if (!values.empty()) h5util::read_box(ds, H5T_NATIVE_FLOAT, values.data(), {0}, {dims[0]});
  for (float v : values)
    if (!std::isfinite(v)) throw std::runtime_error("checkpoint " + path + ": /" + name + " holds NaN or Inf");
  return values;
}
}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& s) {
  h5util::silence_errors();
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  try {
    h5util::Handle file = h5util::create_file(tmp);
    h5util::set_attr(file, "format", std::string(kFormat));
    h5util::set_attr(file, "format_version", kVersion);
    h5util::set_attr(file, "dasnet_version", std::string(DASNET_VERSION));
    h5util::set_attr(file, "epochs_done", int64_t(s.epochs_done));
    h5util::set_attr(file, "model_config", s.model.to_json());
    h5util::set_attr(file, "train_config", s.train.to_json());
    // The only randomness left after initialization is the shuffle, a function of (seed, epoch).
    h5util::set_attr(file, "rng", nlohmann::json{{"shuffle_seed", s.train.seed}, {"next_epoch", s.epochs_done}}.dump());
    write_floats(file, "parameters", s.params);
    write_floats(file, "state", s.state);
    h5util::Handle group = h5util::create_group(file, "optimizer");
    write_floats(group, "velocity", s.velocity);
    h5util::write_strings(file, "parameter_names", s.param_names);
    file.reset();
    std::filesystem::rename(tmp, path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

TrainingState load_checkpoint(const std::string& path) {
  h5util::silence_errors();
  if (!std::filesystem::exists(path)) throw std::runtime_error("checkpoint " + path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw std::runtime_error("checkpoint " + path + ": not an HDF5 file (corrupt or truncated?)");
  h5util::Handle file = h5util::open_file_readonly(path);
  for (const char* attr : {"format", "format_version", "epochs_done", "model_config", "train_config"})
    if (!h5util::has_attr(file, attr)) throw std::runtime_error("checkpoint " + path + ": missing attribute " + attr);
  if (h5util::get_attr_string(file, "format") != kFormat)
    throw std::runtime_error("checkpoint " + path + ": not a dasnet checkpoint");
  if (h5util::get_attr_int(file, "format_version") != kVersion)
    throw std::runtime_error("checkpoint " + path + ": format version " +
                             std::to_string(h5util::get_attr_int(file, "format_version")) + " is not supported");
  TrainingState s;
  try {
    s.model = ModelConfig::from_json(h5util::get_attr_string(file, "model_config"));
    s.train = TrainConfig::from_json(h5util::get_attr_string(file, "train_config"));
  } catch (const std::exception& e) {
    throw std::runtime_error("checkpoint " + path + ": " + e.what());
  }
  s.epochs_done = int(h5util::get_attr_int(file, "epochs_done"));
  s.params = read_floats(file, "parameters", path);
  s.state = read_floats(file, "state", path);
  s.velocity = read_floats(file, "optimizer/velocity", path);
  if (h5util::exists(file, "parameter_names")) {
    h5util::Handle ds = h5util::open_dataset(file, "parameter_names", path);
    s.param_names = h5util::read_strings(ds);
  }
  if (s.velocity.size() != s.params.size())
    throw std::runtime_error("checkpoint " + path + ": optimizer state does not match the parameters");
  return s;
}

}  // namespace dasnet
