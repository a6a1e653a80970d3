// A corrupted variable-length string attribute (the fuzzer's finding: libhdf5 1.10 loops
// forever decoding its global heap) is refused with a clear error, in bounded time, by the
// HDF5 layer and by dasnet inspect.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "io/das_formats.h"
#include "io/hdf5_util.h"
#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
namespace fx = fixtures;

// Adds a variable-length string attribute, as h5py writes text.
void add_vlen_text(const std::string& path, const std::string& object, const std::string& name, const char* text) {
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  h5::Handle node(H5Oopen(file, object.c_str(), H5P_DEFAULT));
  h5::Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type, H5T_VARIABLE);
  h5::Handle space(H5Screate(H5S_SCALAR));
  h5::Handle attr(H5Acreate2(node, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  ASSERT_GE(H5Awrite(attr, type, &text), 0);
}

// Replaces the PRODML fixture's schemaVersion by a variable-length string (as h5py writes
// text), then overwrites the size of that string's object in the global heap collection
// ("GCOL") with 0xff: the byte change that made libhdf5 1.10's heap decoding loop forever.
void write_prodml_with_corrupt_vlen_text(const std::string& path) {
  fx::Spec spec;
  fx::write_prodml(path, spec, "2.0");
  fx::delete_attribute(path, "/Acquisition", "schemaVersion");
  add_vlen_text(path, "/Acquisition", "schemaVersion", "2.0");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t heap = bytes.find("GCOL");
  ASSERT_NE(heap, std::string::npos) << "no global heap collection in " << path;
  ASSERT_EQ(bytes.find("GCOL", heap + 4), std::string::npos) << "expected one global heap collection";
  // Collection header: signature, version, 3 reserved, 8-byte size; then object 1: index (2),
  // reference count (2), reserved (4), size (8) at offset 24.
  bytes[heap + 24] = static_cast<char>(0xff);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(CorruptVariableLengthText, RefusedInBoundedTime) {
  const std::string dir = fx::make_temp_dir("corrupt-vlen");
  const std::string path = dir + "/corrupt.h5";
  write_prodml_with_corrupt_vlen_text(path);
  const auto started = std::chrono::steady_clock::now();
  try {
    h5::File file(path);
    file.group("/Acquisition").attr_string("schemaVersion");
    FAIL() << "the corrupted attribute was read";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("attribute 'schemaVersion'"), std::string::npos) << message;
    EXPECT_NE(message.find("global heap"), std::string::npos) << message;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));

  const testing::CommandResult r = testing::run_dasnet("inspect \"" + path + "\"", dir, 60);
  EXPECT_EQ(r.exit_code, 1) << "124: timed out\n" << r.err;
  EXPECT_NE(r.err.find("attribute 'schemaVersion'"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(CorruptVariableLengthText, IntactVariableLengthTextStillReads) {
  const std::string dir = fx::make_temp_dir("intact-vlen");
  const std::string path = dir + "/intact.h5";
  fx::Spec spec;
  fx::write_prodml(path, spec, "2.0");
  add_vlen_text(path, "/", "note", "written by h5py");
  h5::File file(path);
  EXPECT_EQ(file.group("/").attr_string("note"), "written by h5py");
  EXPECT_EQ(inspect_das(path).format, "prodml");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dasnet
