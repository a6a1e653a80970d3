// The one checked layer over the HDF5 C API: RAII handles; a read-only File/Node API for
// everything dasnet reads (DAS records, data sets, checkpoints, reference sets, maps); and
// writers for the files dasnet creates itself. Failures throw std::runtime_error naming the
// file and the object ("<file>: <object>: <problem>"), never return codes, and HDF5's own
// error-stack printing is silenced once per process.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dasnet::h5 {

// Owns one HDF5 identifier (file, group, dataset, dataspace, datatype, attribute or property
// list) and closes it with the matching H5?close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // hand it straight to the C API and the writers below
  bool valid() const { return id_ >= 0; }
  void reset();
  hid_t release();  // gives up ownership without closing

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's automatic printing of error stacks (our exceptions say what went wrong).
void silence_errors();

// Element type as the readers name it: "int16", "uint8", "float32", "float64", "string", ...
std::string type_name(hid_t type);

// What is wrong with an open dataset's storage that libhdf5 1.10 would crash on (SIGSEGV in
// H5Dread) instead of report: a compact or contiguous dataset holding fewer bytes than its
// shape needs. Empty when nothing is. Every dataset a reader opens is checked with it.
std::string storage_problem(hid_t dataset);

// ---- Reading ---------------------------------------------------------------------------

class File;

// A group or dataset of an open file, with attribute and dataset readers. Every failure
// throws std::runtime_error naming the file and this object.
class Node {
 public:
  Node(const File* file, Handle handle, std::string name, bool is_dataset);
  const std::string& name() const { return name_; }
  hid_t id() const { return handle_.get(); }
  const File& file() const { return *file_; }
  [[noreturn]] void fail(const std::string& problem) const;

  // Attributes (scalar or first element of an array). Numbers stored as text are parsed.
  bool has_attr(const std::string& attr) const;
  double attr_number(const std::string& attr) const;
  std::optional<double> attr_number_if(const std::string& attr) const;
  std::vector<double> attr_numbers(const std::string& attr) const;
  int64_t attr_int64(const std::string& attr) const;  // an integer attribute, read exactly
  // An integer, a boolean enum (h5py writes numpy bools as enum FALSE/TRUE) or an 8-bit bitfield
  // (PyTables); nullopt if absent.
  std::optional<bool> attr_bool_if(const std::string& attr) const;
  std::string attr_string(const std::string& attr) const;
  std::optional<std::string> attr_string_if(const std::string& attr) const;
  std::vector<std::string> attr_strings(const std::string& attr) const;

  // Datasets.
  std::vector<hsize_t> shape() const;
  size_t element_count() const;
  std::string element_type() const;
  bool numeric() const;  // integer or float class
  std::vector<hsize_t> chunk_shape() const;  // empty when not chunked
  // Fails unless the file stores every element the shape claims (chunks allocated for all of
  // them): a file dasnet wrote always does; a damaged one may claim 10^13 values it does not
  // have, which must not become an allocation or a read of that size.
  void require_all_elements_stored() const;
  double scalar_number() const;              // a one-element dataset (number or text)
  std::string scalar_string() const;
  std::vector<std::string> read_strings() const;
  double number_at(hsize_t index) const;     // element `index` of a flattened 1-D read
  int64_t int64_at(hsize_t index) const;
  std::vector<double> read_numbers(size_t max_elements) const;
  std::vector<double> numbers_in(hsize_t start, hsize_t count) const;  // 1-D slice
  // Reads the box [offset, offset + count) into `data`, converted to memory type `mem_type`.
  void read_box(hid_t mem_type, void* data, const std::vector<hsize_t>& offset,
                const std::vector<hsize_t>& count) const;
  // Text or number attribute as text ("2.0" stays "2.0"; 5 becomes "5"); nullopt if absent.
  std::optional<std::string> attr_text_if(const std::string& attr) const;

 private:
  const File* file_;
  Handle handle_;
  std::string name_;
  bool is_dataset_;
};

// A read-only open HDF5 file. Nodes point back at it: keep it in place while they live.
class File {
 public:
  explicit File(const std::string& path);
  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.get(); }
  [[noreturn]] void fail(const std::string& object, const std::string& problem) const;

  // True when every link of `object_path` exists (no error for missing parents).
  bool exists(const std::string& object_path) const;
  bool is_group(const std::string& object_path) const;
  bool is_dataset(const std::string& object_path) const;
  std::vector<std::string> children(const std::string& group_path) const;
  Node group(const std::string& object_path) const;
  Node dataset(const std::string& object_path) const;
  // The dataset an object reference points at, named `label` in errors (JLD2 files reference
  // anonymous datasets that no path reaches).
  Node dataset_at_reference(hobj_ref_t reference, const std::string& label) const;

 private:
  std::string path_;
  Handle handle_;
};

// ---- Writing ---------------------------------------------------------------------------

// Creates (truncating) a file; userblock_bytes > 0 reserves a header block (MATLAB v7.3 uses 512).
Handle create_file(const std::string& path, hsize_t userblock_bytes = 0);
// Closes a file written with create_file and checks that HDF5 wrote everything: every group,
// dataset and attribute of it must be closed already (HDF5 would otherwise delay the real close,
// and its metadata writes, until the last one goes), and a failed close (a full disk) throws
// naming `path`.
void close_file(Handle& file, const std::string& path);
// Writes `path` atomically (io/durable_file.h): fill(file) fills a new file created under the
// temporary name; the handles it opens close when it returns, then the file is closed, checked,
// synced and renamed into place.
void write_file_atomically(const std::string& path, const std::function<void(hid_t file)>& fill,
                           hsize_t userblock_bytes = 0);
Handle create_group(hid_t parent, const std::string& name);
// Creates a dataset of `type` with `dims`; chunk empty = contiguous; deflate_level < 0 = none.
Handle create_dataset(hid_t parent, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                      const std::vector<hsize_t>& chunk = {}, int deflate_level = -1);
// Writes `data` (memory type `mem_type`) into the box [offset, offset + count) of a dataset.
void write_box(hid_t dataset, hid_t mem_type, const void* data, const std::vector<hsize_t>& offset,
               const std::vector<hsize_t>& count);
// Attributes (scalar or 1-D) on any object; an existing attribute of that name is replaced.
void set_attr(hid_t obj, const std::string& name, const std::string& value);
void set_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
void set_attr(hid_t obj, const std::string& name, double value);
void set_attr(hid_t obj, const std::string& name, int64_t value);
// Text marked UTF-8 and a bool as an 8-bit bitfield, as PyTables writes a Python str and a
// numpy bool (DASCore's DASDAE reader reads them through PyTables).
void set_attr_utf8(hid_t obj, const std::string& name, const std::string& value);
void set_attr_bits(hid_t obj, const std::string& name, bool value);
// A 1-D dataset of fixed-length, null-terminated strings.
void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values);

}  // namespace dasnet::h5
