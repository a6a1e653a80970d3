// Small RAII layer over the HDF5 C API for the files dasnet writes itself (synthetic records,
// data sets, reference sets) and reads back (data sets). Errors throw std::runtime_error naming
// the file and the object, never return codes.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dasnet {
namespace h5util {

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  void reset();
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
};

// Turns off HDF5's automatic error stack printing once per process: we report errors ourselves.
void silence_errors();

// Creates (truncating) a file; userblock_bytes > 0 reserves a header block (MATLAB v7.3 uses 512).
Handle create_file(const std::string& path, hsize_t userblock_bytes = 0);
Handle open_file_readonly(const std::string& path);
Handle create_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name, const std::string& file_for_errors);
Handle open_dataset(hid_t parent, const std::string& name, const std::string& file_for_errors);
bool exists(hid_t parent, const std::string& path);

// Creates a dataset of `type` with `dims`; chunk empty = contiguous; deflate_level < 0 = none.
Handle create_dataset(hid_t parent, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                      const std::vector<hsize_t>& chunk = {}, int deflate_level = -1);
// Writes `data` (memory type `mem_type`) into the box [offset, offset + count) of a dataset.
void write_box(hid_t dataset, hid_t mem_type, const void* data, const std::vector<hsize_t>& offset,
               const std::vector<hsize_t>& count);
void read_box(hid_t dataset, hid_t mem_type, void* data, const std::vector<hsize_t>& offset,
              const std::vector<hsize_t>& count);
std::vector<hsize_t> dims_of(hid_t dataset);

// Attributes (scalar or 1-D) on any object.
void set_attr(hid_t obj, const std::string& name, const std::string& value);
void set_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
void set_attr(hid_t obj, const std::string& name, double value);
void set_attr(hid_t obj, const std::string& name, int64_t value);
bool has_attr(hid_t obj, const std::string& name);
std::string get_attr_string(hid_t obj, const std::string& name);
std::vector<std::string> get_attr_strings(hid_t obj, const std::string& name);
double get_attr_double(hid_t obj, const std::string& name);
int64_t get_attr_int(hid_t obj, const std::string& name);

// Whole-dataset writers for small tables (strings are fixed-length, null-terminated).
void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_strings(hid_t dataset);

}  // namespace h5util
}  // namespace dasnet
