#include "io/hdf5_util.h"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/durable_file.h"
#include "io/input_path.h"

namespace dasnet::h5 {

namespace {
// HDF5 1.10 keeps the identifier of a file whose H5Fclose failed (a full disk) while it has
// already freed the file's structures; its atexit handler (H5close) then closes it again and
// crashes (SIGSEGV, exit 139, after the right error message). dasnet closes every file it opens
// (RAII handles), so that handler has nothing to do: turn it off before the library starts.
// A static initializer runs before main and before any HDF5 call of this program.
const bool kNoHdf5AtExit = [] {
  H5dont_atexit();
  return true;
}();
}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
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
  id_ = H5I_INVALID_HID;
}

hid_t Handle::release() {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  return id;
}

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::string type_name(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  switch (cls) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(size * 8);
    case H5T_FLOAT:
      return "float" + std::to_string(size * 8);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    default:
      return "other";
  }
}

namespace {

std::string trim_text(std::string s) {
  while (!s.empty() && (s.back() == '\0' || std::isspace(static_cast<unsigned char>(s.back())))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

std::optional<double> parse_number(const std::string& text) {
  const std::string t = trim_text(text);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return v;
}

// What reading an attribute or a dataset has in common: a file type, a dataspace and a
// function that reads every element into memory of a given type.
struct Readable {
  Handle type;
  Handle space;
  std::function<herr_t(hid_t mem_type, void* buffer)> read;
  std::function<void(const std::string&)> fail;
};

size_t element_count_of(const Readable& r) {
  const hssize_t n = H5Sget_simple_extent_npoints(r.space.get());
  if (n < 0) r.fail("unreadable dataspace");
  return static_cast<size_t>(n);
}

constexpr size_t kMaxSmallRead = size_t{1} << 26;  // elements; metadata is never this big

// libhdf5 1.10 loops forever reading a variable-length string whose global-heap collection is
// corrupted (an object size that wraps its pointer walk), and such a read cannot be
// interrupted safely. So the read is tried first in a forked child, which exits when the read
// returns; only when the child finishes in time does this process read the same bytes itself
// (the same bytes decode the same way). A child still reading after kVlenReadLimitMs is
// killed and the read refused. One fork per variable-length text, well under a millisecond.
constexpr int kVlenReadLimitMs = 5000;

void require_read_finishes(const Readable& r, hid_t mem, size_t count) {
  int done[2];
  if (pipe(done) != 0) r.fail("cannot create a pipe to bound the text read");
  std::fflush(nullptr);  // the child must not flush this process's buffered output again
  const pid_t child = fork();
  if (child < 0) {
    close(done[0]);
    close(done[1]);
    r.fail("cannot fork to bound the text read");
  }
  if (child == 0) {  // holds the write end open until the read returns, then vanishes
    close(done[0]);
    std::vector<char*> ptrs(count, nullptr);
    _exit(r.read(mem, ptrs.data()) < 0 ? 1 : 0);
  }
  close(done[1]);
  pollfd wait_for{done[0], POLLIN, 0};
  int ready = 0;
  do ready = poll(&wait_for, 1, kVlenReadLimitMs);
  while (ready < 0 && errno == EINTR);
  close(done[0]);
  if (ready == 0) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (ready == 0)
    r.fail("variable-length text unreadable: libhdf5 had not finished reading it after " +
           std::to_string(kVlenReadLimitMs / 1000) + " s (a corrupted global heap)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) r.fail("unreadable text (corrupted variable-length storage)");
}

std::vector<std::string> read_strings_of(const Readable& r) {
  if (H5Tget_class(r.type.get()) != H5T_STRING) r.fail("expected text, found " + type_name(r.type.get()));
  const size_t n = element_count_of(r);
  if (n > kMaxSmallRead) r.fail("text array too large");
  std::vector<std::string> out;
  if (H5Tis_variable_str(r.type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(r.type.get()));  // HDF5 will not convert ASCII <-> UTF-8
    require_read_finishes(r, mem.get(), n);
    std::vector<char*> ptrs(n, nullptr);
    if (r.read(mem.get(), ptrs.data()) < 0) r.fail("unreadable text");
    for (char* p : ptrs) {
      out.push_back(trim_text(p ? p : ""));
      std::free(p);  // HDF5 allocated these with the C library's malloc
    }
    return out;
  }
  const size_t width = H5Tget_size(r.type.get());
  if (width == 0 || width > (size_t{1} << 20)) r.fail("bad text width");
  Handle mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem.get(), width);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  H5Tset_cset(mem.get(), H5Tget_cset(r.type.get()));
  std::vector<char> buf(n * width + 1, '\0');
  if (r.read(mem.get(), buf.data()) < 0) r.fail("unreadable text");
  for (size_t i = 0; i < n; ++i) out.push_back(trim_text(std::string(buf.data() + i * width, width)));
  return out;
}

std::vector<double> read_numbers_of(const Readable& r, size_t max_elements) {
  const H5T_class_t cls = H5Tget_class(r.type.get());
  const size_t n = element_count_of(r);
  if (n > max_elements) r.fail("array larger than expected (" + std::to_string(n) + " elements)");
  if (cls == H5T_STRING) {
    std::vector<double> out;
    for (const std::string& s : read_strings_of(r)) {
      auto v = parse_number(s);
      if (!v) r.fail("expected a number, found text '" + s + "'");
      out.push_back(*v);
    }
    return out;
  }
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) r.fail("expected a number, found " + type_name(r.type.get()));
  std::vector<double> out(n);
  if (n > 0 && r.read(H5T_NATIVE_DOUBLE, out.data()) < 0) r.fail("unreadable number");
  return out;
}

Readable attribute_readable(const Node& node, const std::string& attr) {
  Readable r;
  const std::string where = "attribute '" + attr + "'";
  r.fail = [&node, where](const std::string& problem) { node.fail(where + ": " + problem); };
  Handle a(H5Aopen(node.id(), attr.c_str(), H5P_DEFAULT));
  if (!a.valid()) r.fail("missing");
  r.type = Handle(H5Aget_type(a.get()));
  r.space = Handle(H5Aget_space(a.get()));
  if (!r.type.valid() || !r.space.valid()) r.fail("unreadable");
  const hid_t aid = a.get();
  auto shared = std::make_shared<Handle>(std::move(a));
  r.read = [shared, aid](hid_t mem, void* buf) { return H5Aread(aid, mem, buf); };
  return r;
}

Readable dataset_readable(const Node& node) {
  Readable r;
  r.fail = [&node](const std::string& problem) { node.fail(problem); };
  r.type = Handle(H5Dget_type(node.id()));
  r.space = Handle(H5Dget_space(node.id()));
  if (!r.type.valid() || !r.space.valid()) r.fail("unreadable dataset");
  const hid_t did = node.id();
  r.read = [did](hid_t mem, void* buf) { return H5Dread(did, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); };
  return r;
}

}  // namespace

std::string storage_problem(hid_t dataset) {
  Handle create(H5Dget_create_plist(dataset)), type(H5Dget_type(dataset)), space(H5Dget_space(dataset));
  if (!create.valid() || !type.valid() || !space.valid()) return "unreadable dataset header";
  const H5D_layout_t layout = H5Pget_layout(create.get());
  if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS) return "";  // chunks are checked per chunk by HDF5
  if (H5Pget_external_count(create.get()) != 0) return "";  // bytes in other files, read by HDF5 with checks
  if (H5Tis_variable_str(type.get()) > 0 || H5Tdetect_class(type.get(), H5T_VLEN) > 0) return "";
  if (layout == H5D_CONTIGUOUS && H5Dget_offset(dataset) == HADDR_UNDEF) return "";  // unwritten: fill value
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0) return "unreadable dataspace";
  const double needed = double(points) * double(H5Tget_size(type.get()));
  const double stored = double(H5Dget_storage_size(dataset));
  if (stored >= needed) return "";
  return std::string(layout == H5D_COMPACT ? "compact" : "contiguous") + " storage holds " +
         std::to_string(H5Dget_storage_size(dataset)) + " bytes where its shape needs " +
         std::to_string(points) + " values of " + std::to_string(H5Tget_size(type.get())) +
         " bytes (corrupted layout)";
}

// ---- Node ------------------------------------------------------------------------------

Node::Node(const File* file, Handle handle, std::string name, bool is_dataset)
    : file_(file), handle_(std::move(handle)), name_(std::move(name)), is_dataset_(is_dataset) {}

void Node::fail(const std::string& problem) const { file_->fail(name_, problem); }

bool Node::has_attr(const std::string& attr) const {
  return H5Aexists(handle_.get(), attr.c_str()) > 0;
}

double Node::attr_number(const std::string& attr) const {
  Readable r = attribute_readable(*this, attr);
  auto v = read_numbers_of(r, kMaxSmallRead);
  if (v.empty()) r.fail("empty");
  return v[0];
}

std::optional<double> Node::attr_number_if(const std::string& attr) const {
  if (!has_attr(attr)) return std::nullopt;
  return attr_number(attr);
}

std::vector<double> Node::attr_numbers(const std::string& attr) const {
  Readable r = attribute_readable(*this, attr);
  return read_numbers_of(r, kMaxSmallRead);
}

int64_t Node::attr_int64(const std::string& attr) const {
  Readable r = attribute_readable(*this, attr);
  if (H5Tget_class(r.type.get()) != H5T_INTEGER) r.fail("expected an integer, found " + type_name(r.type.get()));
  const size_t n = element_count_of(r);
  if (n == 0) r.fail("empty");
  if (n > kMaxSmallRead) r.fail("array too large");
  std::vector<int64_t> v(n);
  if (r.read(H5T_NATIVE_INT64, v.data()) < 0) r.fail("unreadable number");
  return v[0];
}

std::optional<bool> Node::attr_bool_if(const std::string& attr) const {
  if (!has_attr(attr)) return std::nullopt;
  Readable r = attribute_readable(*this, attr);
  if (element_count_of(r) != 1) r.fail("expected one value");
  const H5T_class_t cls = H5Tget_class(r.type.get());
  if (cls == H5T_INTEGER) return attr_int64(attr) != 0;
  if (cls == H5T_BITFIELD && H5Tget_size(r.type.get()) == 1) {  // PyTables writes numpy bools as 8-bit bitfields
    unsigned char bits = 0;
    if (r.read(H5T_NATIVE_B8, &bits) < 0) r.fail("unreadable boolean");
    return bits != 0;
  }
  if (cls != H5T_ENUM || H5Tget_size(r.type.get()) > 8) r.fail("expected a boolean, found " + type_name(r.type.get()));
  Handle mem(H5Tget_native_type(r.type.get(), H5T_DIR_DEFAULT));
  unsigned char value[8] = {};
  char name[16] = {};
  if (!mem.valid() || r.read(mem.get(), value) < 0 || H5Tenum_nameof(mem.get(), value, name, sizeof name) < 0)
    r.fail("unreadable boolean");
  const std::string text = name;
  if (text != "TRUE" && text != "FALSE") r.fail("expected TRUE or FALSE, found '" + text + "'");
  return text == "TRUE";
}

std::string Node::attr_string(const std::string& attr) const {
  auto v = attr_strings(attr);
  if (v.empty()) fail("attribute '" + attr + "': empty");
  return v[0];
}

std::optional<std::string> Node::attr_string_if(const std::string& attr) const {
  if (!has_attr(attr)) return std::nullopt;
  return attr_string(attr);
}

std::vector<std::string> Node::attr_strings(const std::string& attr) const {
  Readable r = attribute_readable(*this, attr);
  return read_strings_of(r);
}

std::vector<hsize_t> Node::shape() const {
  if (!is_dataset_) fail("expected a dataset, found a group");
  Handle space(H5Dget_space(handle_.get()));
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0 || rank > 32) fail("unreadable dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

size_t Node::element_count() const {
  size_t n = 1;
  for (hsize_t d : shape()) n *= static_cast<size_t>(d);
  return n;
}

std::string Node::element_type() const {
  Handle type(H5Dget_type(handle_.get()));
  if (!type.valid()) fail("unreadable element type");
  return type_name(type.get());
}

bool Node::numeric() const {
  Handle type(H5Dget_type(handle_.get()));
  if (!type.valid()) fail("unreadable element type");
  const H5T_class_t cls = H5Tget_class(type.get());
  return cls == H5T_INTEGER || cls == H5T_FLOAT;
}

std::vector<hsize_t> Node::chunk_shape() const {
  Handle plist(H5Dget_create_plist(handle_.get()));
  if (!plist.valid() || H5Pget_layout(plist.get()) != H5D_CHUNKED) return {};
  const int rank = H5Pget_chunk(plist.get(), 0, nullptr);
  if (rank <= 0 || rank > 32) return {};
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Pget_chunk(plist.get(), rank, dims.data());
  return dims;
}

void Node::require_all_elements_stored() const {
  if (!is_dataset_) fail("expected a dataset, found a group");
  double claimed = 1;  // a product of damaged extents can pass 2^64
  for (hsize_t extent : shape()) claimed *= double(extent);
  if (claimed == 0) return;
  Handle create(H5Dget_create_plist(handle_.get())), type(H5Dget_type(handle_.get()));
  if (!create.valid() || !type.valid()) fail("unreadable dataset header");
  double stored = 0;  // elements the file holds room for
  if (H5Pget_layout(create.get()) == H5D_CHUNKED) {
    hsize_t chunks = 0;
    Handle space(H5Dget_space(handle_.get()));
    if (!space.valid() || H5Dget_num_chunks(handle_.get(), space.get(), &chunks) < 0) fail("unreadable chunk index");
    double per_chunk = 1;
    for (hsize_t extent : chunk_shape()) per_chunk *= double(extent);
    stored = double(chunks) * per_chunk;
  } else {
    stored = double(H5Dget_storage_size(handle_.get())) / double(std::max<size_t>(H5Tget_size(type.get()), 1));
  }
  if (double(claimed) > stored)
    fail("claims " + std::to_string(static_cast<unsigned long long>(std::min(claimed, 1.8e19))) +
         " values, the file stores at most " +
         std::to_string(static_cast<unsigned long long>(stored)) + " (truncated or corrupted)");
}

double Node::scalar_number() const {
  if (!is_dataset_) fail("expected a dataset, found a group");
  if (element_count() != 1) fail("expected one value, found " + std::to_string(element_count()));
  Readable r = dataset_readable(*this);
  return read_numbers_of(r, 1).at(0);
}

std::string Node::scalar_string() const {
  auto v = read_strings();
  if (v.empty()) fail("empty text");
  return v[0];
}

std::vector<std::string> Node::read_strings() const {
  if (!is_dataset_) fail("expected a dataset, found a group");
  Readable r = dataset_readable(*this);
  return read_strings_of(r);
}

namespace {
// Reads element `index` (counted over the flattened dataset) into memory type `mem`.
void read_one(const Node& node, hsize_t index, hid_t mem, void* out) {
  const auto dims = node.shape();
  size_t total = 1;
  for (hsize_t d : dims) total *= d;
  if (index >= total) node.fail("index " + std::to_string(index) + " out of range");
  std::vector<hsize_t> start(dims.size()), count(dims.size(), 1);
  hsize_t rest = index;
  for (size_t k = dims.size(); k-- > 0;) {
    start[k] = rest % dims[k];
    rest /= dims[k];
  }
  Handle fspace(H5Dget_space(node.id()));
  if (!dims.empty() &&
      H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
    node.fail("bad selection");
  Handle mspace(H5Screate(H5S_SCALAR));
  if (H5Dread(node.id(), mem, mspace.get(), fspace.get(), H5P_DEFAULT, out) < 0) node.fail("unreadable value");
}
}  // namespace

double Node::number_at(hsize_t index) const {
  if (!numeric()) fail("expected numbers, found " + element_type());
  double v = 0;
  read_one(*this, index, H5T_NATIVE_DOUBLE, &v);
  return v;
}

int64_t Node::int64_at(hsize_t index) const {
  if (!numeric()) fail("expected numbers, found " + element_type());
  int64_t v = 0;
  read_one(*this, index, H5T_NATIVE_INT64, &v);
  return v;
}

std::vector<double> Node::read_numbers(size_t max_elements) const {
  if (!is_dataset_) fail("expected a dataset, found a group");
  Readable r = dataset_readable(*this);
  return read_numbers_of(r, max_elements);
}

std::vector<double> Node::numbers_in(hsize_t start, hsize_t count) const {
  const auto dims = shape();
  if (dims.size() != 1) fail("expected a 1-D array, found rank " + std::to_string(dims.size()));
  if (!numeric()) fail("expected numbers, found " + element_type());
  if (start + count > dims[0] || count > kMaxSmallRead) fail("slice out of range");
  std::vector<double> out(count);
  if (count == 0) return out;
  Handle fspace(H5Dget_space(id()));
  if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0)
    fail("bad selection");
  Handle mspace(H5Screate_simple(1, &count, nullptr));
  if (H5Dread(id(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT, out.data()) < 0)
    fail("unreadable values");
  return out;
}

void Node::read_box(hid_t mem_type, void* data, const std::vector<hsize_t>& offset,
                    const std::vector<hsize_t>& count) const {
  const auto dims = shape();
  if (offset.size() != dims.size() || count.size() != dims.size())
    fail("expected a rank-" + std::to_string(dims.size()) + " box, found rank " + std::to_string(count.size()));
  for (size_t k = 0; k < dims.size(); ++k)
    if (offset[k] > dims[k] || count[k] > dims[k] - offset[k]) fail("read outside the dataset");
  Handle fspace(H5Dget_space(id()));
  if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr) < 0)
    fail("read outside the dataset");
  Handle mspace(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  if (H5Dread(id(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data) < 0) fail("read failed");
}

std::optional<std::string> Node::attr_text_if(const std::string& attr) const {
  if (!has_attr(attr)) return std::nullopt;
  Readable r = attribute_readable(*this, attr);
  if (H5Tget_class(r.type.get()) == H5T_STRING) {
    auto v = read_strings_of(r);
    return v.empty() ? std::string() : v[0];
  }
  auto v = read_numbers_of(r, kMaxSmallRead);
  if (v.empty()) return std::string();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v[0]);
  return std::string(buf);
}

// ---- File ------------------------------------------------------------------------------

File::File(const std::string& path) : path_(path) {
  require_input_path(path);
  silence_errors();
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 < 0) throw std::runtime_error(path + ": cannot open (missing or unreadable file)");
  if (is_hdf5 == 0) throw std::runtime_error(path + ": not an HDF5 file (unknown DAS format)");
  handle_ = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!handle_.valid()) throw std::runtime_error(path + ": truncated or corrupted HDF5 file (cannot open)");
}

void File::fail(const std::string& object, const std::string& problem) const {
  throw std::runtime_error(path_ + ": " + object + ": " + problem);
}

bool File::exists(const std::string& object_path) const {
  // H5Lexists fails (rather than answering false) when a parent is missing: walk the links.
  std::string prefix;
  size_t pos = 0;
  if (object_path == "/" || object_path.empty()) return true;
  while (pos != std::string::npos) {
    const size_t next = object_path.find('/', pos + 1);
    prefix = object_path.substr(0, next);
    if (!prefix.empty() && prefix != "/") {
      if (H5Lexists(handle_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (H5Oexists_by_name(handle_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next;
  }
  return true;
}

namespace {
H5O_type_t object_type(hid_t file, const std::string& path) {
  H5O_info_t info;
  if (H5Oget_info_by_name(file, path.c_str(), &info, H5P_DEFAULT) < 0) return H5O_TYPE_UNKNOWN;
  return info.type;
}
}  // namespace

bool File::is_group(const std::string& object_path) const {
  return exists(object_path) && object_type(handle_.get(), object_path) == H5O_TYPE_GROUP;
}

bool File::is_dataset(const std::string& object_path) const {
  return exists(object_path) && object_type(handle_.get(), object_path) == H5O_TYPE_DATASET;
}

std::vector<std::string> File::children(const std::string& group_path) const {
  Node g = group(group_path);
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    auto* list = static_cast<std::vector<std::string>*>(data);
    if (list->size() > 100000) return 1;  // a corrupted file may claim absurd link counts
    list->emplace_back(name);
    return 0;
  };
  if (H5Literate(g.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names) < 0)
    fail(group_path, "unreadable group listing");
  return names;
}

Node File::group(const std::string& object_path) const {
  if (!exists(object_path)) fail(object_path, "missing group");
  Handle h(H5Gopen2(handle_.get(), object_path.c_str(), H5P_DEFAULT));
  if (!h.valid()) fail(object_path, "not a readable group");
  return Node(this, std::move(h), object_path, false);
}

Node File::dataset(const std::string& object_path) const {
  if (!exists(object_path)) fail(object_path, "missing dataset");
  Handle h(H5Dopen2(handle_.get(), object_path.c_str(), H5P_DEFAULT));
  if (!h.valid()) fail(object_path, "not a readable dataset");
  if (const std::string problem = storage_problem(h.get()); !problem.empty()) fail(object_path, problem);
  return Node(this, std::move(h), object_path, true);
}

Node File::dataset_at_reference(hobj_ref_t reference, const std::string& label) const {
  Handle h(H5Rdereference2(handle_.get(), H5P_DEFAULT, H5R_OBJECT, &reference));
  if (!h.valid()) fail(label, "object reference does not resolve (truncated or corrupted file)");
  if (H5Iget_type(h.get()) != H5I_DATASET) fail(label, "object reference does not point at a dataset");
  if (const std::string problem = storage_problem(h.get()); !problem.empty()) fail(label, problem);
  return Node(this, std::move(h), label, true);
}

// ---- Writing ---------------------------------------------------------------------------

namespace {

// HDF5 reports a failed write without its cause; a full disk is the cause users meet.
std::string disk_full_hint() {
  return errno == ENOSPC || errno == EDQUOT ? " (no space left on the device)" : "";
}

// Writers have no File object: name the file and object from the identifier itself.
[[noreturn]] void fail_at(hid_t obj, const std::string& problem) {
  const std::string hint = disk_full_hint();
  char file[1024] = {0};
  char object[512] = {0};
  if (H5Fget_name(obj, file, sizeof(file)) < 0) std::snprintf(file, sizeof(file), "?");
  if (H5Iget_name(obj, object, sizeof(object)) < 0) std::snprintf(object, sizeof(object), "?");
  throw std::runtime_error(std::string(file) + ": " + object + ": " + problem + hint);
}

Handle fixed_string_type(size_t length) {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, length == 0 ? 1 : length);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  return t;
}

// Packs strings into one buffer of fixed-width, null-terminated fields; returns the width.
size_t pack_strings(const std::vector<std::string>& values, std::vector<char>& buf) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size() + 1);
  buf.assign(std::max<size_t>(values.size(), 1) * len, 0);
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  return len;
}

void replace_attr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
}

void write_attr(hid_t obj, const std::string& name, hid_t file_type, hid_t space, hid_t mem_type,
                const void* data) {
  replace_attr(obj, name);
  Handle a(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a, mem_type, data) < 0) fail_at(obj, "cannot write attribute '" + name + "'");
}

}  // namespace

Handle create_file(const std::string& path, hsize_t userblock_bytes) {
  silence_errors();
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
  if (userblock_bytes > 0) H5Pset_userblock(fcpl, userblock_bytes);
  errno = 0;
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT));
  if (!f.valid()) throw std::runtime_error(path + ": cannot create HDF5 file" + disk_full_hint());
  return f;
}

void close_file(Handle& file, const std::string& path) {
  const unsigned objects = H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL;
  const ssize_t still_open = H5Fget_obj_count(file, objects);
  if (still_open != 0) {
    file.reset();
    throw std::logic_error(path + ": " + std::to_string(still_open) +
                           " HDF5 objects still open when the file was closed (a writer must close them first)");
  }
  errno = 0;
  if (H5Fclose(file.release()) < 0)
    throw std::runtime_error(path + ": cannot finish writing the file (HDF5 failed to write its metadata" +
                             disk_full_hint() + ")");
}

void write_file_atomically(const std::string& path, const std::function<void(hid_t file)>& fill,
                           hsize_t userblock_bytes) {
  dasnet::write_file_atomically(path, [&](const std::string& tmp) {
    Handle file = create_file(tmp, userblock_bytes);
    fill(file);
    close_file(file, tmp);
  });
}

Handle create_group(hid_t parent, const std::string& name) {
  Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail_at(parent, "cannot create group '" + name + "'");
  return g;
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
  if (!d.valid()) fail_at(parent, "cannot create dataset '" + name + "'");
  return d;
}

void write_box(hid_t dataset, hid_t mem_type, const void* data, const std::vector<hsize_t>& offset,
               const std::vector<hsize_t>& count) {
  Handle file_space(H5Dget_space(dataset));
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr);
  Handle mem_space(H5Screate_simple(int(count.size()), count.data(), nullptr));
  if (H5Dwrite(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, data) < 0) fail_at(dataset, "write failed");
}

void set_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = fixed_string_type(value.size() + 1);
  Handle space(H5Screate(H5S_SCALAR));
  write_attr(obj, name, type, space, type, value.c_str());
}

void set_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  std::vector<char> buf;
  Handle type = fixed_string_type(pack_strings(values, buf));
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  write_attr(obj, name, type, space, type, buf.data());
}

void set_attr(hid_t obj, const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR));
  write_attr(obj, name, H5T_IEEE_F64LE, space, H5T_NATIVE_DOUBLE, &value);
}

void set_attr(hid_t obj, const std::string& name, int64_t value) {
  Handle space(H5Screate(H5S_SCALAR));
  write_attr(obj, name, H5T_STD_I64LE, space, H5T_NATIVE_INT64, &value);
}

void set_attr_utf8(hid_t obj, const std::string& name, const std::string& value) {
  // Exactly the text, padded with nothing: PyTables keeps a terminating NUL as part of the str.
  Handle type = fixed_string_type(value.size());
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR));
  write_attr(obj, name, type, space, type, value.c_str());
}

void set_attr_bits(hid_t obj, const std::string& name, bool value) {
  const unsigned char bits = value ? 1 : 0;
  Handle space(H5Screate(H5S_SCALAR));
  write_attr(obj, name, H5T_STD_B8LE, space, H5T_NATIVE_B8, &bits);
}

void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  std::vector<char> buf;
  Handle type = fixed_string_type(pack_strings(values, buf));
  Handle d = create_dataset(parent, name, type, {hsize_t(values.size())});
  if (!values.empty() && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    fail_at(parent, "cannot write '" + name + "'");
}

}  // namespace dasnet::h5
