#include "export/torch_file.h"

#if DASNET_HAVE_TORCH_FILES
#include <zip.h>
#endif

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

#include "io/durable_file.h"

namespace dasnet {

#if DASNET_HAVE_TORCH_FILES

namespace {

constexpr const char* kArchive = "archive/";  // the folder torch.save names after the file

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw std::runtime_error(path + ": " + problem);
}

// --- zip archive (libzip) ---------------------------------------------------------------

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipArchive = std::unique_ptr<zip_t, ZipCloser>;

ZipArchive open_zip(const std::string& path, int flags, const std::string& shown_path) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), flags, &error);
  if (!z) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string what = zip_error_strerror(&e);
    zip_error_fini(&e);
    if (error == ZIP_ER_NOZIP)
      fail(shown_path, "not a zip archive: not a torch.save file of PyTorch >= 1.6 (re-save a legacy file with a "
                       "recent torch.save)");
    fail(shown_path, "cannot open as a zip archive: " + what);
  }
  return ZipArchive(z);
}

// Entries are added uncompressed, as torch.save stores them; `bytes` must outlive zip_close.
void add_entry(zip_t* z, const std::string& name, const std::string& bytes, const std::string& path) {
  zip_source_t* source = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
  const zip_int64_t index = source ? zip_file_add(z, name.c_str(), source, ZIP_FL_ENC_UTF_8) : -1;
  if (index < 0) {
    if (source) zip_source_free(source);
    fail(path, "cannot add " + name + ": " + zip_strerror(z));
  }
  if (zip_set_file_compression(z, zip_uint64_t(index), ZIP_CM_STORE, 0) != 0)
    fail(path, "cannot store " + name + ": " + zip_strerror(z));
}

std::string read_entry(zip_t* z, const std::string& name, const std::string& path) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(z, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) fail(path, "no record " + name);
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen(z, name.c_str(), 0), zip_fclose);
  if (!file) fail(path, "cannot read record " + name + ": " + zip_strerror(z));
  std::string bytes(st.size, '\0');
  if (zip_fread(file.get(), bytes.data(), st.size) != zip_int64_t(st.size))
    fail(path, "record " + name + " is truncated or corrupt");
  return bytes;
}

// --- pickle writing (protocol 2, the one torch.save uses) -------------------------------

class PickleWriter {
 public:
  PickleWriter() { out_ += "\x80\x02"; }  // PROTO 2
  void global(const std::string& module, const std::string& name) { out_ += "c" + module + "\n" + name + "\n"; }
  void text(const std::string& s) {  // BINUNICODE
    out_ += 'X';
    uint32_le(uint32_t(s.size()));
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      out_ += char(v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      uint32_le(uint32_t(int32_t(v)));
    } else {  // LONG1: 8 bytes, two's complement, little-endian
      out_ += "\x8a\x08";
      for (int i = 0; i < 8; ++i) out_ += char((uint64_t(v) >> (8 * i)) & 0xff);
    }
  }
  void int_tuple(const std::vector<size_t>& values) {
    out_ += '(';
    for (size_t v : values) integer(int64_t(v));
    out_ += 't';
  }
  void op(const char* opcode) { out_ += opcode; }
  std::string finish() { return out_ + "."; }

 private:
  void uint32_le(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += char((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

std::vector<size_t> contiguous_strides(const std::vector<size_t>& shape) {
  std::vector<size_t> stride(shape.size());
  size_t step = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    stride[i] = step;
    step *= shape[i];
  }
  return stride;
}

// OrderedDict([(name, _rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict()))...])
std::string state_dict_pickle(const StateDict& tensors) {
  PickleWriter w;
  w.global("collections", "OrderedDict");
  w.op(")R(");  // EMPTY_TUPLE REDUCE MARK
  for (size_t i = 0; i < tensors.size(); ++i) {
    const NamedTensor& t = tensors[i];
    w.text(t.name);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op("((");  // MARK (arguments) MARK (persistent id)
    w.text("storage");
    w.global("torch", t.is_int64 ? "LongStorage" : "FloatStorage");
    w.text(std::to_string(i));
    w.text("cpu");
    w.integer(int64_t(t.is_int64 ? 1 : t.values.size()));
    w.op("tQ");  // TUPLE BINPERSID
    w.integer(0);
    w.int_tuple(t.shape);
    w.int_tuple(contiguous_strides(t.shape));
    w.op("\x89");  // NEWFALSE: requires_grad
    w.global("collections", "OrderedDict");
    w.op(")RtR");  // backward hooks: OrderedDict(); TUPLE REDUCE
  }
  w.op("u");  // SETITEMS
  return w.finish();
}

std::string storage_bytes(const NamedTensor& t) {
  // x86-64 and AArch64 hosts are little-endian, as the records must be.
  if (t.is_int64) return std::string(reinterpret_cast<const char*>(&t.count), sizeof t.count);
  return std::string(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
}

}  // namespace

void write_torch_state_dict(const StateDict& tensors, const std::string& path) {
  std::vector<std::string> records;  // kept alive until zip_close has written them
  records.reserve(tensors.size() + 3);
  write_file_atomically(path, [&](const std::string& temporary) {
    ZipArchive z = open_zip(temporary, ZIP_CREATE | ZIP_TRUNCATE, path);
    const std::string archive = kArchive;
    add_entry(z.get(), archive + "data.pkl", records.emplace_back(state_dict_pickle(tensors)), path);
    add_entry(z.get(), archive + "byteorder", records.emplace_back("little"), path);
    for (size_t i = 0; i < tensors.size(); ++i)
      add_entry(z.get(), archive + "data/" + std::to_string(i), records.emplace_back(storage_bytes(tensors[i])), path);
    add_entry(z.get(), archive + "version", records.emplace_back("3\n"), path);
    if (zip_close(z.get()) != 0) fail(path, std::string("cannot write the zip archive: ") + zip_strerror(z.get()));
    z.release();  // closed and freed by zip_close
  });
}

// --- pickle reading: a restricted machine for state_dicts --------------------------------

namespace {

// A storage record: its dtype (from torch.<T>Storage) and key (data/<key>).
struct StorageRef {
  std::string dtype, key;
};
struct TensorRef {
  StorageRef storage;
  int64_t offset = 0;
  std::vector<int64_t> shape, stride;
};

struct Value;
using Items = std::vector<Value>;
struct Value {
  enum Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor, Mark } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s;                           // String; Global: "module.name"
  std::shared_ptr<Items> items;            // Tuple, List; Dict: key, value, key, value ...
  std::shared_ptr<StorageRef> storage;
  std::shared_ptr<TensorRef> tensor;
  static Value of(Kind k) {
    Value v;
    v.kind = k;
    if (k == Tuple || k == List || k == Dict) v.items = std::make_shared<Items>();
    return v;
  }
};

const std::map<std::string, std::string>& storage_dtypes() {
  static const std::map<std::string, std::string> dtypes = {{"torch.FloatStorage", "float32"},
                                                            {"torch.DoubleStorage", "float64"},
                                                            {"torch.LongStorage", "int64"},
                                                            {"torch.IntStorage", "int32"}};
  return dtypes;
}

class PickleMachine {
 public:
  PickleMachine(const std::string& bytes, const std::string& where) : in_(bytes), where_(where) {}

  Value run() {
    while (true) {
      const char op = byte();
      if (op == '.') break;
      if (!push_opcode(op) && !container_opcode(op) && !memo_or_call_opcode(op))
        error("unsupported pickle opcode 0x" + hex(op) + " at byte " + std::to_string(pos_ - 1));
    }
    if (stack_.size() != 1) error("malformed pickle (" + std::to_string(stack_.size()) + " values at STOP)");
    return stack_.back();
  }

 private:
  [[noreturn]] void error(const std::string& problem) const { fail(where_, problem); }
  static std::string hex(char c) {
    const char* digits = "0123456789abcdef";
    return {digits[(unsigned char)c >> 4], digits[(unsigned char)c & 15]};
  }
  char byte() {
    if (pos_ >= in_.size()) error("pickle ends early (truncated data.pkl)");
    return in_[pos_++];
  }
  std::string take(size_t n) {
    if (n > in_.size() - pos_) error("pickle ends early (truncated data.pkl)");
    pos_ += n;
    return in_.substr(pos_ - n, n);
  }
  uint64_t unsigned_le(size_t n) {
    const std::string b = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t((unsigned char)b[k]) << (8 * k);
    return v;
  }
  std::string line() {
    const size_t end = in_.find('\n', pos_);
    if (end == std::string::npos) error("pickle ends early (truncated data.pkl)");
    std::string s = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  Value pop() {
    if (stack_.empty() || stack_.back().kind == Value::Mark) error("malformed pickle (stack underflow)");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.empty()) error("malformed pickle (stack underflow)");
    return stack_.back();
  }
  // The values above the topmost MARK, which is removed.
  Items pop_to_mark() {
    size_t mark = stack_.size();
    while (mark > 0 && stack_[mark - 1].kind != Value::Mark) --mark;
    if (mark == 0) error("malformed pickle (no MARK)");
    Items items(stack_.begin() + long(mark), stack_.end());
    stack_.resize(mark - 1);
    return items;
  }
  void push_text(std::string s) {
    Value v = Value::of(Value::String);
    v.s = std::move(s);
    stack_.push_back(v);
  }
  void push_int(int64_t i) {
    Value v = Value::of(Value::Int);
    v.i = i;
    stack_.push_back(v);
  }
  void push_global(const std::string& module, const std::string& name) {
    Value v = Value::of(Value::Global);
    v.s = module + "." + name;
    stack_.push_back(v);
  }
  void push_tuple(Items items) {
    Value v = Value::of(Value::Tuple);
    *v.items = std::move(items);
    stack_.push_back(v);
  }

  bool push_opcode(char op);
  bool container_opcode(char op);
  bool memo_or_call_opcode(char op);
  Value call(const Value& callable, const Items& args);
  Value persistent(const Value& id);

  const std::string& in_;
  std::string where_;
  size_t pos_ = 0;
  std::vector<Value> stack_;
  std::map<uint64_t, Value> memo_;
};

// Opcodes that push one value.
bool PickleMachine::push_opcode(char op) {
  switch (op) {
    case '\x80': byte(); return true;               // PROTO
    case '\x95': take(8); return true;              // FRAME (protocol 4)
    case 'N': stack_.push_back(Value::of(Value::None)); return true;
    case '\x88': case '\x89': {                     // NEWTRUE, NEWFALSE
      Value v = Value::of(Value::Bool);
      v.i = op == '\x88';
      stack_.push_back(v);
      return true;
    }
    case 'K': push_int(int64_t(unsigned_le(1))); return true;           // BININT1
    case 'M': push_int(int64_t(unsigned_le(2))); return true;           // BININT2
    case 'J': push_int(int64_t(int32_t(uint32_t(unsigned_le(4))))); return true;  // BININT
    case '\x8a': {                                   // LONG1
      const size_t n = size_t((unsigned char)byte());
      if (n > 8) error("integer of " + std::to_string(n) + " bytes");
      uint64_t v = n ? unsigned_le(n) : 0;
      if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
      push_int(int64_t(v));
      return true;
    }
    case 'G': {                                      // BINFLOAT, big-endian
      const std::string b = take(8);
      uint64_t bits = 0;
      for (char c : b) bits = (bits << 8) | (unsigned char)c;
      Value v = Value::of(Value::Float);
      std::memcpy(&v.f, &bits, sizeof bits);
      stack_.push_back(v);
      return true;
    }
    case 'X': push_text(take(unsigned_le(4))); return true;      // BINUNICODE
    case '\x8c': push_text(take(unsigned_le(1))); return true;   // SHORT_BINUNICODE
    case '\x8d': push_text(take(unsigned_le(8))); return true;   // BINUNICODE8
    case 'T': push_text(take(unsigned_le(4))); return true;      // BINSTRING
    case 'U': push_text(take(unsigned_le(1))); return true;      // SHORT_BINSTRING
    case 'c': {                                      // GLOBAL
      const std::string module = line();
      push_global(module, line());
      return true;
    }
    case '\x93': {                                   // STACK_GLOBAL
      const Value name = pop(), module = pop();
      if (name.kind != Value::String || module.kind != Value::String) error("malformed STACK_GLOBAL");
      push_global(module.s, name.s);
      return true;
    }
    default: return false;
  }
}

// Opcodes that build tuples, lists and dicts.
bool PickleMachine::container_opcode(char op) {
  switch (op) {
    case '(': stack_.push_back(Value::of(Value::Mark)); return true;
    case ')': push_tuple({}); return true;
    case 't': push_tuple(pop_to_mark()); return true;
    case '\x85': case '\x86': case '\x87': {         // TUPLE1..3
      Items items(size_t(op - '\x84'));
      for (size_t k = items.size(); k-- > 0;) items[k] = pop();
      push_tuple(std::move(items));
      return true;
    }
    case ']': stack_.push_back(Value::of(Value::List)); return true;
    case '}': stack_.push_back(Value::of(Value::Dict)); return true;
    case 'a': case 'e': case 's': case 'u': {        // APPEND, APPENDS, SETITEM, SETITEMS
      Items items;
      if (op == 'e' || op == 'u') items = pop_to_mark();
      else if (op == 'a') items = {pop()};
      else {
        Value value = pop(), key = pop();
        items = {key, value};
      }
      Value& target = top();
      const bool list = op == 'a' || op == 'e';
      if (target.kind != (list ? Value::List : Value::Dict) || (!list && items.size() % 2))
        error(std::string("malformed pickle (") + (list ? "APPEND to a non-list" : "SETITEM on a non-dict") + ")");
      target.items->insert(target.items->end(), items.begin(), items.end());
      return true;
    }
    default: return false;
  }
}

// The memo, persistent ids (storages), REDUCE (the allowed calls) and BUILD.
bool PickleMachine::memo_or_call_opcode(char op) {
  switch (op) {
    case 'q': memo_[unsigned_le(1)] = top(); return true;       // BINPUT
    case 'r': memo_[unsigned_le(4)] = top(); return true;       // LONG_BINPUT
    case '\x94': memo_[memo_.size()] = top(); return true;      // MEMOIZE
    case 'h': case 'j': {                                        // BINGET, LONG_BINGET
      auto it = memo_.find(unsigned_le(op == 'h' ? 1 : 4));
      if (it == memo_.end()) error("malformed pickle (memo entry missing)");
      stack_.push_back(it->second);
      return true;
    }
    case 'Q': stack_.push_back(persistent(pop())); return true;  // BINPERSID
    case 'R': {                                                   // REDUCE
      const Value args = pop(), callable = pop();
      if (args.kind != Value::Tuple) error("malformed pickle (REDUCE without an argument tuple)");
      stack_.push_back(call(callable, *args.items));
      return true;
    }
    case 'b': {  // BUILD: only a state_dict's _metadata (per-module versions), which dasnet ignores
      pop();
      if (top().kind != Value::Dict) error("holds an object with state, not only tensors: save model.state_dict()");
      return true;
    }
    default: return false;
  }
}

Value PickleMachine::persistent(const Value& id) {
  const Items* p = id.kind == Value::Tuple ? id.items.get() : nullptr;
  if (!p || p->size() < 3 || (*p)[0].s != "storage" || (*p)[1].kind != Value::Global || (*p)[2].kind != Value::String)
    error("unknown persistent record (not a torch storage)");
  auto dtype = storage_dtypes().find((*p)[1].s);
  if (dtype == storage_dtypes().end())
    error("storage of type " + (*p)[1].s + " is not supported (float32, float64, int64, int32 are)");
  Value v = Value::of(Value::Storage);
  v.storage = std::make_shared<StorageRef>(StorageRef{dtype->second, (*p)[2].s});
  return v;
}

std::vector<int64_t> int_tuple(const Value& v, const std::string& where) {
  if (v.kind != Value::Tuple) fail(where, "malformed tensor (size or stride is not a tuple)");
  std::vector<int64_t> out;
  for (const Value& item : *v.items) {
    if (item.kind != Value::Int || item.i < 0) fail(where, "malformed tensor (size or stride)");
    out.push_back(item.i);
  }
  return out;
}

Value PickleMachine::call(const Value& callable, const Items& args) {
  const std::string name = callable.kind == Value::Global ? callable.s : "a non-global";
  if (name == "collections.OrderedDict") {
    if (!args.empty()) error("OrderedDict with arguments is not supported");
    return Value::of(Value::Dict);
  }
  if (name == "torch._utils._rebuild_parameter" && !args.empty()) return args[0];
  if (name == "torch._utils._rebuild_tensor_v2") {
    if (args.size() < 4 || args[0].kind != Value::Storage || args[1].kind != Value::Int)
      error("malformed _rebuild_tensor_v2 call");
    Value v = Value::of(Value::Tensor);
    v.tensor = std::make_shared<TensorRef>(
        TensorRef{*args[0].storage, args[1].i, int_tuple(args[2], where_), int_tuple(args[3], where_)});
    if (v.tensor->shape.size() != v.tensor->stride.size()) error("malformed tensor (size and stride differ in rank)");
    return v;
  }
  error("holds " + name + ", not only tensors: save model.state_dict(), not the model or other objects");
}

// --- from the pickled object to named tensors -------------------------------------------

size_t dtype_size(const std::string& dtype) { return dtype == "float32" || dtype == "int32" ? 4 : 8; }

double element_at(const std::string& bytes, const std::string& dtype, size_t index) {
  const char* p = bytes.data() + index * dtype_size(dtype);
  if (dtype == "float32") {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  if (dtype == "float64") {
    double d;
    std::memcpy(&d, p, 8);
    return d;
  }
  if (dtype == "int32") {
    int32_t i;
    std::memcpy(&i, p, 4);
    return i;
  }
  int64_t i;
  std::memcpy(&i, p, 8);
  return double(i);
}

// The tensor's elements in row-major order, following its offset and strides into the storage.
NamedTensor materialize(const std::string& name, const TensorRef& t, const std::string& storage,
                        const std::string& path) {
  NamedTensor out{name, std::vector<size_t>(t.shape.begin(), t.shape.end()), {}};
  const size_t count = out.element_count(), available = storage.size() / dtype_size(t.storage.dtype);
  std::vector<double> values(count);
  std::vector<size_t> index(t.shape.size(), 0);
  for (size_t k = 0; k < count; ++k) {
    size_t at = size_t(t.offset);
    for (size_t d = 0; d < index.size(); ++d) at += index[d] * size_t(t.stride[d]);
    if (at >= available)
      fail(path, "tensor '" + name + "' reads past the end of its storage data/" + t.storage.key + " (truncated?)");
    values[k] = element_at(storage, t.storage.dtype, at);
    for (size_t d = index.size(); d-- > 0;) {  // next index, last dimension fastest
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
  if (t.storage.dtype == "int64" || t.storage.dtype == "int32") {
    if (count != 1) fail(path, "tensor '" + name + "' is an integer tensor of " + shape_text(out.shape));
    out.is_int64 = true;
    out.count = int64_t(values[0]);
  } else {
    out.values.assign(values.begin(), values.end());
  }
  return out;
}

// The name -> tensor dict inside what was pickled.
const Items& state_dict_items(const Value& root, const std::string& path) {
  if (root.kind != Value::Dict) fail(path, "holds no dict: not a state_dict");
  const Items& items = *root.items;
  for (size_t k = 0; k + 1 < items.size(); k += 2)
    if ((items[k].s == "state_dict" || items[k].s == "model_state_dict") && items[k + 1].kind == Value::Dict)
      return *items[k + 1].items;
  return items;
}

}  // namespace

StateDict read_torch_state_dict(const std::string& path) {
  ZipArchive z = open_zip(path, ZIP_RDONLY, path);
  // torch.save names the archive's folder after the file: find it by its data.pkl.
  std::string folder;
  bool found = false;
  for (zip_int64_t i = 0, n = zip_get_num_entries(z.get(), 0); i < n && !found; ++i) {
    const std::string name = zip_get_name(z.get(), zip_uint64_t(i), 0) ? zip_get_name(z.get(), zip_uint64_t(i), 0) : "";
    const size_t slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") folder = name.substr(0, slash + 1), found = true;
  }
  if (!found) fail(path, "no data.pkl record: not a torch.save file");
  if (zip_name_locate(z.get(), (folder + "byteorder").c_str(), 0) >= 0 &&
      read_entry(z.get(), folder + "byteorder", path) != "little")
    fail(path, "big-endian storages are not supported");
  const std::string pickle = read_entry(z.get(), folder + "data.pkl", path);
  const Value root = PickleMachine(pickle, path + " (data.pkl)").run();
  const Items& items = state_dict_items(root, path);
  bool all_module = !items.empty();
  for (size_t k = 0; k < items.size(); k += 2) all_module = all_module && items[k].s.rfind("module.", 0) == 0;
  std::map<std::string, std::string> storages;
  StateDict out;
  for (size_t k = 0; k + 1 < items.size(); k += 2) {
    if (items[k].kind != Value::String) fail(path, "a state_dict key is not a string");
    const std::string name = all_module ? items[k].s.substr(7) : items[k].s;
    if (items[k + 1].kind != Value::Tensor) fail(path, "entry '" + name + "' is not a tensor");
    const TensorRef& t = *items[k + 1].tensor;
    auto it = storages.find(t.storage.key);
    if (it == storages.end())
      it = storages.emplace(t.storage.key, read_entry(z.get(), folder + "data/" + t.storage.key, path)).first;
    out.push_back(materialize(name, t, it->second, path));
  }
  return out;
}

#else
namespace {
[[noreturn]] void no_torch_files(const std::string& path) {
  throw std::runtime_error(path + ": this dasnet was built without libzip, so it cannot read or write "
                           "PyTorch .pt files (Debian: libzip-dev; then rebuild)");
}
}  // namespace
void write_torch_state_dict(const StateDict&, const std::string& path) { no_torch_files(path); }
StateDict read_torch_state_dict(const std::string& path) { no_torch_files(path); }
#endif

}  // namespace dasnet
