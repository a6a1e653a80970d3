// read_das_stored (the file's element type and axis order, io/das_formats.h) against read_das
// (float32 channel-major, scaled; checked against DASCore by tests/test_dascore_agreement.cpp):
// every sample of several windows of every real file and of synthetic files of each layout.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "io/das_formats.h"
#include "tests/binary_fixtures.h"
#include "tests/das_fixtures.h"
#include "tests/real_files.h"

namespace dasnet {
namespace {

template <typename T>
double stored_value(const DasRecord& rec, size_t index) {
  T v;
  std::memcpy(&v, rec.stored.data() + index * sizeof(T), sizeof v);
  return static_cast<double>(v);
}

// Sample (ch, t) of a stored read, converted as read_das converts it (to float, then scaled).
float stored_at(const DasRecord& rec, size_t ch, size_t t) {
  const size_t index = rec.stored_time_major ? t * rec.num_channels + ch : ch * rec.num_samples + t;
  double v = 0;
  if (rec.stored_type == "int16") v = stored_value<int16_t>(rec, index);
  else if (rec.stored_type == "int32") v = stored_value<int32_t>(rec, index);
  else if (rec.stored_type == "float32") v = stored_value<float>(rec, index);
  else if (rec.stored_type == "float64") v = stored_value<double>(rec, index);
  else ADD_FAILURE() << "unknown stored type " << rec.stored_type;
  float f = static_cast<float>(v);
  const float scale = static_cast<float>(rec.scale_factor);
  if (scale != 1.0f) f *= scale;
  return f;
}

// The two reads of `window` of `path` agree in metadata and every sample.
void expect_same(const std::string& path, size_t record, const ReadWindow& window) {
  const DasRecord floats = read_das(path, window);
  const DasRecord stored = read_das_stored(path, window);
  SCOPED_TRACE(path + " record " + std::to_string(record) + " window from channel " +
               std::to_string(window.first_channel) + ", sample " + std::to_string(window.first_sample));
  ASSERT_EQ(stored.num_channels, floats.num_channels);
  ASSERT_EQ(stored.num_samples, floats.num_samples);
  EXPECT_EQ(stored.start_time_ns, floats.start_time_ns);
  EXPECT_TRUE(stored.data.empty());
  const size_t bytes = stored.stored_type == "int16" ? 2 : stored.stored_type == "float64" ? 8 : 4;
  ASSERT_EQ(stored.stored.size(), stored.num_channels * stored.num_samples * bytes);
  for (const char* kept : {"int16", "int32", "float32", "float64"})
    if (floats.raw_type == kept) {
      EXPECT_EQ(stored.stored_type, floats.raw_type) << "stored type converted";
    }
  size_t differ = 0;
  for (size_t ch = 0; ch < floats.num_channels; ++ch)
    for (size_t t = 0; t < floats.num_samples; ++t) {
      const float a = floats.at(ch, t), b = stored_at(stored, ch, t);
      if (!(a == b || (std::isnan(a) && std::isnan(b))) && differ++ == 0)
        ADD_FAILURE() << "channel " << ch << " sample " << t << ": read_das " << a << ", stored " << b;
    }
  EXPECT_EQ(differ, 0u);
}

// The whole record and an inner window (an odd channel and sample offset) of every record.
void expect_same_reads(const std::string& path) {
  const DasInfo first = inspect_das(path);
  for (size_t record = 0; record < first.record_count; ++record) {
    const DasInfo info = inspect_das(path, record);
    ReadWindow whole;
    whole.record = record;
    expect_same(path, record, whole);
    if (info.num_channels < 3 || info.num_samples < 5) continue;
    ReadWindow inner = whole;
    inner.first_channel = 1;
    inner.num_channels = info.num_channels - 2;
    inner.first_sample = 3;
    inner.num_samples = info.num_samples - 5;
    expect_same(path, record, inner);
  }
}

class StoredRealFile : public ::testing::TestWithParam<const char*> {};

TEST_P(StoredRealFile, SameSamplesAsReadDas) { expect_same_reads(fixtures::real_file(GetParam())); }

INSTANTIATE_TEST_SUITE_P(
    Files, StoredRealFile,
    ::testing::Values("prodml_2.0.h5", "terra15_v5_test_file.hdf5", "iDAS005_tdms_example.626.tdms", "febus_2.h5",
                      "prodml_fbe_1.h5", "dispersion_event.h5", "h5_simple_1.h5", "das_vader_1.jld2",
                      "xdas_netcdf.nc", "small_channel_patch.sgy", "DASDMSShot00_20230328155653619.das"),
    [](const ::testing::TestParamInfo<const char*>& info) {
      std::string name = info.param;
      for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name;
    });

TEST(StoredRead, SyntheticLayouts) {
  const std::string dir = fixtures::make_temp_dir("stored-read");
  fixtures::Spec spec;
  spec.channels = 40;
  spec.samples = 96;
  fixtures::write_prodml(dir + "/time_major.h5", spec, "2.0", true, 16);
  fixtures::write_prodml(dir + "/locus_major.h5", spec, "2.1", false);
  fixtures::write_febus(dir + "/febus.h5", spec, 4, 32, 4);
  expect_same_reads(dir + "/time_major.h5");
  expect_same_reads(dir + "/locus_major.h5");
  expect_same_reads(dir + "/febus.h5");
  EXPECT_TRUE(read_das_stored(dir + "/time_major.h5").stored_time_major);
  EXPECT_FALSE(read_das_stored(dir + "/locus_major.h5").stored_time_major);
  for (bool interleaved : {true, false})
    for (bool float32 : {false, true}) {
      fixtures::TdmsLayout layout;
      layout.interleaved = interleaved;
      layout.float32 = float32;
      const std::string path = dir + "/layout_" + std::to_string(interleaved) + std::to_string(float32) + ".tdms";
      fixtures::write_tdms(path, spec, layout);
      expect_same_reads(path);
      const DasRecord rec = read_das_stored(path);
      EXPECT_EQ(rec.stored_time_major, interleaved);
      EXPECT_EQ(rec.stored_type, float32 ? "float32" : "int16");
    }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dasnet
