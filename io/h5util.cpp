#include "io/h5util.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace dasnet {
namespace h5util {

namespace {

std::string object_name(hid_t obj) {
  char buf[512] = {0};
  if (H5Iget_name(obj, buf, sizeof(buf)) < 0) return "?";
  return buf;
}

std::string file_name(hid_t obj) {
  char buf[1024] = {0};
  if (H5Fget_name(obj, buf, sizeof(buf)) < 0) return "?";
  return buf;
}

[[noreturn]] void fail(hid_t obj, const std::string& what) {
  throw std::runtime_error(file_name(obj) + ": " + object_name(obj) + ": " + what);
}

Handle string_type(size_t length) {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, length == 0 ? 1 : length);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  return t;
}

// Reads fixed- or variable-length strings from an attribute or a dataset.
std::vector<std::string> read_string_values(hid_t obj, bool is_attr) {
  Handle type(is_attr ? H5Aget_type(obj) : H5Dget_type(obj));
  Handle space(is_attr ? H5Aget_space(obj) : H5Dget_space(obj));
  if (H5Tget_class(type) != H5T_STRING) fail(obj, "expected a string");
  hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<std::string> out;
  if (n <= 0) return out;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem, H5T_VARIABLE);
    std::vector<char*> ptrs(size_t(n), nullptr);
    herr_t rc = is_attr ? H5Aread(obj, mem, ptrs.data()) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    if (rc < 0) fail(obj, "cannot read strings");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
  } else {
    size_t len = H5Tget_size(type);
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem, len);
    std::vector<char> buf(size_t(n) * len + 1, 0);
    herr_t rc = is_attr ? H5Aread(obj, mem, buf.data()) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    if (rc < 0) fail(obj, "cannot read strings");
    for (hssize_t i = 0; i < n; ++i) {
      const char* s = buf.data() + size_t(i) * len;
      out.emplace_back(s, strnlen(s, len));
    }
  }
  return out;
}

Handle open_attr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) <= 0) fail(obj, "missing attribute '" + name + "'");
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!a.valid()) fail(obj, "cannot open attribute '" + name + "'");
  return a;
}

void replace_attr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
  id_ = -1;
}

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

Handle create_file(const std::string& path, hsize_t userblock_bytes) {
  silence_errors();
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
  if (userblock_bytes > 0) H5Pset_userblock(fcpl, userblock_bytes);
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT));
  if (!f.valid()) throw std::runtime_error(path + ": cannot create HDF5 file");
  return f;
}

Handle open_file_readonly(const std::string& path) {
  silence_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) throw std::runtime_error(path + ": not an HDF5 file (or missing)");
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.valid()) throw std::runtime_error(path + ": cannot open HDF5 file");
  return f;
}

Handle create_group(hid_t parent, const std::string& name) {
  Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail(parent, "cannot create group '" + name + "'");
  return g;
}

bool exists(hid_t parent, const std::string& path) {
  // H5Lexists needs every intermediate link to exist: walk the path one component at a time.
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      if (H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

Handle open_group(hid_t parent, const std::string& name, const std::string& file_for_errors) {
  if (!exists(parent, name)) throw std::runtime_error(file_for_errors + ": missing group '" + name + "'");
  Handle g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT));
  if (!g.valid()) throw std::runtime_error(file_for_errors + ": '" + name + "' is not a group");
  return g;
}

Handle open_dataset(hid_t parent, const std::string& name, const std::string& file_for_errors) {
  if (!exists(parent, name)) throw std::runtime_error(file_for_errors + ": missing dataset '" + name + "'");
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT));
  if (!d.valid()) throw std::runtime_error(file_for_errors + ": '" + name + "' is not a dataset");
  return d;
}

Handle create_dataset(hid_t parent, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                      const std::vector<hsize_t>& chunk, int deflate_level) {
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  bool empty = false;
  for (hsize_t d : dims) empty = empty || d == 0;
  if (!chunk.empty() && !empty) {
    std::vector<hsize_t> c(chunk);
    for (size_t i = 0; i < c.size(); ++i) c[i] = std::max<hsize_t>(1, std::min(c[i], dims[i]));
    H5Pset_chunk(dcpl, int(c.size()), c.data());
    if (deflate_level >= 0) {
      H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, unsigned(deflate_level));
    }
  }
  Handle d(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!d.valid()) fail(parent, "cannot create dataset '" + name + "'");
  return d;
}

void write_box(hid_t dataset, hid_t mem_type, const void* data, const std::vector<hsize_t>& offset,
               const std::vector<hsize_t>& count) {
  Handle file_space(H5Dget_space(dataset));
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr);
  Handle mem_space(H5Screate_simple(int(count.size()), count.data(), nullptr));
  if (H5Dwrite(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, data) < 0) fail(dataset, "write failed");
}

void read_box(hid_t dataset, hid_t mem_type, void* data, const std::vector<hsize_t>& offset,
              const std::vector<hsize_t>& count) {
  Handle file_space(H5Dget_space(dataset));
  if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr) < 0)
    fail(dataset, "read outside the dataset");
  Handle mem_space(H5Screate_simple(int(count.size()), count.data(), nullptr));
  if (H5Dread(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, data) < 0) fail(dataset, "read failed");
}

std::vector<hsize_t> dims_of(hid_t dataset) {
  Handle space(H5Dget_space(dataset));
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

void set_attr(hid_t obj, const std::string& name, const std::string& value) {
  replace_attr(obj, name);
  Handle type = string_type(value.size() + 1);
  Handle space(H5Screate(H5S_SCALAR));
  Handle a(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a, type, value.c_str()) < 0) fail(obj, "cannot write attribute '" + name + "'");
}

void set_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  replace_attr(obj, name);
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size() + 1);
  std::vector<char> buf(std::max<size_t>(values.size(), 1) * len, 0);
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  Handle type = string_type(len);
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  Handle a(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a, type, buf.data()) < 0) fail(obj, "cannot write attribute '" + name + "'");
}

void set_attr(hid_t obj, const std::string& name, double value) {
  replace_attr(obj, name);
  Handle space(H5Screate(H5S_SCALAR));
  Handle a(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a, H5T_NATIVE_DOUBLE, &value) < 0) fail(obj, "cannot write attribute '" + name + "'");
}

void set_attr(hid_t obj, const std::string& name, int64_t value) {
  replace_attr(obj, name);
  Handle space(H5Screate(H5S_SCALAR));
  Handle a(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a, H5T_NATIVE_INT64, &value) < 0) fail(obj, "cannot write attribute '" + name + "'");
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string get_attr_string(hid_t obj, const std::string& name) {
  Handle a = open_attr(obj, name);
  auto v = read_string_values(a, true);
  return v.empty() ? std::string() : v[0];
}

std::vector<std::string> get_attr_strings(hid_t obj, const std::string& name) {
  Handle a = open_attr(obj, name);
  return read_string_values(a, true);
}

double get_attr_double(hid_t obj, const std::string& name) {
  Handle a = open_attr(obj, name);
  double v = 0;
  if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) fail(obj, "attribute '" + name + "' is not a number");
  return v;
}

int64_t get_attr_int(hid_t obj, const std::string& name) {
  Handle a = open_attr(obj, name);
  Handle type(H5Aget_type(a));
  if (H5Tget_class(type) != H5T_INTEGER) fail(obj, "attribute '" + name + "' is not an integer");
  int64_t v = 0;
  if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail(obj, "cannot read attribute '" + name + "'");
  return v;
}

void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size() + 1);
  std::vector<char> buf(std::max<size_t>(values.size(), 1) * len, 0);
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  Handle type = string_type(len);
  Handle d = create_dataset(parent, name, type, {hsize_t(values.size())});
  if (!values.empty() && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    fail(parent, "cannot write '" + name + "'");
}

std::vector<std::string> read_strings(hid_t dataset) { return read_string_values(dataset, false); }

}  // namespace h5util
}  // namespace dasnet
