// Readers of the formats written by the field's own software (DASDAE, H5Simple, xdas netCDF4,
// DASVader JLD2) and of PRODML's processed FBE bands: synthetic files written as those tools
// write them, and bad input of every kind (truncated, corrupted, wrong dtype, missing fields).
// The real files of each format are checked against DASCore in test_dascore_agreement.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "io/das_formats.h"
#include "io/das_time.h"
#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"
#include "tests/reader_test_util.h"

namespace dasnet {
namespace {

namespace fx = fixtures;
namespace fs = std::filesystem;

class FieldToolReaders : public testing::ScratchDirTest {
 protected:
  FieldToolReaders() : ScratchDirTest("field-readers") {}
};
using testing::expect_error;

// Every sample of `rec` is fx::value(c, t) + offset.
void expect_values(const DasRecord& rec, double offset = 0) {
  for (size_t c = 0; c < rec.num_channels; ++c)
    for (size_t t = 0; t < rec.num_samples; ++t)
      ASSERT_FLOAT_EQ(rec.at(c, t), static_cast<float>(fx::value(c, t) + offset)) << "channel " << c << " sample " << t;
}

void expect_axes(const DasInfo& info, const fx::Spec& spec, double distance_start) {
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_EQ(info.num_samples, spec.samples);
  EXPECT_NEAR(info.sampling_rate_hz, spec.rate_hz, 1e-6 * spec.rate_hz);
  EXPECT_DOUBLE_EQ(info.channel_spacing_m, spec.spacing_m);
  EXPECT_DOUBLE_EQ(info.distance_start_m, distance_start);
}

TEST_F(FieldToolReaders, DasdaeReadsEveryPatchAsARecord) {
  fx::Spec spec;
  const std::string file = path("event.h5");
  fx::write_dasdae(file, spec, 2);
  EXPECT_EQ(detect_das_format(file), "dasdae");
  const DasInfo first = inspect_das(file);
  EXPECT_EQ(first.record_count, 2u);
  EXPECT_EQ(first.time_axis, 1);  // distance,time
  EXPECT_EQ(first.format_version, "1");
  EXPECT_EQ(first.units, "m / s");
  EXPECT_EQ(first.start_time_ns, spec.start_ns);
  expect_axes(first, spec, 100);
  expect_values(read_das(file));
  const DasInfo second = inspect_das(file, 1);
  EXPECT_EQ(second.start_time_ns, spec.start_ns + static_cast<int64_t>(std::llround(spec.samples * 1e9 / spec.rate_hz)));
  ReadWindow w;
  w.record = 1;
  expect_values(read_das(file, w), 100);
  expect_error([&] { inspect_das(file, 2); }, file, "the file holds 2 patches");
}

TEST_F(FieldToolReaders, DasdaeBadInputNamesTheField) {
  fx::Spec spec;
  const std::string file = path("dasdae.h5");
  fx::write_dasdae(file, spec);
  const std::string g = "/waveforms/DAS__patch_0";
  const std::string no_dims = edited_copy(file, "no_dims.h5", [&](const std::string& p) {
    fx::delete_attribute(p, g, "_dims");
  });
  expect_error([&] { inspect_das(no_dims); }, no_dims, "attribute '_dims': missing");
  const std::string no_time = edited_copy(file, "no_time.h5", [&](const std::string& p) {
    fx::delete_object(p, g + "/_coord_time");
  });
  expect_error([&] { inspect_das(no_time); }, no_time, "_coord_time: missing dataset");
  const std::string text = edited_copy(file, "text_data.h5", [&](const std::string& p) {
    fx::replace_dataset(p, g + "/data", {spec.channels, spec.samples}, true);
  });
  expect_error([&] { inspect_das(text); }, text, "expected numeric samples");
  const std::string uneven = edited_copy(file, "uneven.h5", [&](const std::string& p) {
    fx::replace_dataset(p, g + "/_coord_distance", {spec.channels});  // all zeros
  });
  expect_error([&] { inspect_das(uneven); }, uneven, "_coord_distance: distance values do not change");
}

TEST_F(FieldToolReaders, H5SimpleTimeFromPosixSecondsChannelsOrDistances) {
  fx::Spec spec;
  const std::string file = path("foresee.h5");
  fx::write_h5simple(file, spec);
  EXPECT_EQ(detect_das_format(file), "h5simple");
  DasInfo info = inspect_das(file);
  EXPECT_EQ(info.time_axis, 0);
  EXPECT_EQ(info.distance_units, "");  // channel numbers only
  EXPECT_LE(std::llabs(info.start_time_ns - spec.start_ns), 1000);  // posix seconds as float64: ~0.2 us
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_NEAR(info.sampling_rate_hz, spec.rate_hz, 1e-6 * spec.rate_hz);
  expect_values(read_das(file));

  const std::string with_distance = path("with_distance.h5");
  fx::write_h5simple(with_distance, spec, true);
  info = inspect_das(with_distance);
  EXPECT_EQ(info.distance_units, "m");
  expect_axes(info, spec, 50);
}

TEST_F(FieldToolReaders, H5SimpleBadInputNamesTheField) {
  fx::Spec spec;
  spec.channels = spec.samples = 16;
  const std::string square = path("square.h5");
  fx::write_h5simple(square, spec);
  expect_error([&] { inspect_das(square); }, square, "cannot tell which axis is time");
  spec.channels = 12;
  const std::string file = path("simple.h5");
  fx::write_h5simple(file, spec);
  const std::string short_time = edited_copy(file, "short_time.h5", [&](const std::string& p) {
    fx::replace_dataset(p, "/timestamp", {5});
  });
  expect_error([&] { inspect_das(short_time); }, short_time, "/timestamp: length 5 matches neither axis");
  const std::string text_time = edited_copy(file, "text_time.h5", [&](const std::string& p) {
    fx::replace_dataset(p, "/timestamp", {spec.samples}, true);
  });
  expect_error([&] { inspect_das(text_time); }, text_time, "/timestamp: expected numbers");
}

TEST_F(FieldToolReaders, ProdmlFbeBandsAreProcessedRecordsAfterTheRawData) {
  fx::Spec spec;
  const std::string fbe = path("fbe.h5");
  fx::write_prodml_fbe(fbe, spec, 3);
  EXPECT_EQ(detect_das_format(fbe), "prodml");
  for (size_t band = 0; band < 3; ++band) {
    const DasInfo info = inspect_das(fbe, band);
    EXPECT_EQ(info.record_count, 3u);
    EXPECT_TRUE(info.processed);
    EXPECT_EQ(info.product, "FBE band " + std::to_string(band) + " (" + std::to_string(10 * band) + "-" +
                                std::to_string(10 * band + 10) + " Hz)");
    EXPECT_EQ(info.record_name, "Fbe[0]/FbeData[" + std::to_string(band) + "]");
    EXPECT_EQ(info.units, "rad2/Hz");
    EXPECT_EQ(info.start_time_ns, spec.start_ns);
    expect_axes(info, spec, 0);
    ReadWindow w;
    w.record = band;
    const DasRecord rec = read_das(fbe, w);
    EXPECT_TRUE(rec.processed);
    expect_values(rec, 1000.0 * band);
  }
  expect_error([&] { require_raw_data(inspect_das(fbe), false, "--allow-processed"); }, fbe, "FBE band 0");

  const std::string both = path("raw_and_fbe.h5");
  fx::write_prodml_fbe(both, spec, 2, true);
  const DasInfo raw = inspect_das(both);
  EXPECT_EQ(raw.record_count, 3u);
  EXPECT_FALSE(raw.processed);
  EXPECT_EQ(raw.raw_type, "int16");
  EXPECT_TRUE(inspect_das(both, 1).processed);
  EXPECT_TRUE(inspect_das(both, 2).processed);
}

TEST_F(FieldToolReaders, DatasetBuildRefusesFbeUnlessAllowed) {
  fx::Spec spec;
  spec.channels = 64;
  spec.samples = 256;
  const std::string fbe = path("fbe.h5");
  fx::write_prodml_fbe(fbe, spec, 2);
  const auto refused = testing::run_dasnet("dataset build \"" + fbe + "\" -o \"" + path("set.h5") +
                                               "\" --patch-channels 16 --patch-samples 16 --per-class 1 -q",
                                           dir_);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("FBE band 0"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--allow-processed"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(path("set.h5")));
}

TEST_F(FieldToolReaders, ProdmlFbeBadInputNamesTheField) {
  fx::Spec spec;
  const std::string file = path("fbe.h5");
  fx::write_prodml_fbe(file, spec, 2);
  const std::string fbe = "/Acquisition/Processed/Fbe[0]";
  const std::string no_rate = edited_copy(file, "no_rate.h5", [&](const std::string& p) {
    fx::delete_attribute(p, fbe, "OutputDataRate");
    fx::delete_object(p, fbe + "/FbeDataTime");
    for (const char* band : {"/FbeData[0]", "/FbeData[1]"}) fx::delete_attribute(p, fbe + band, "PartEndTime");
  });
  expect_error([&] { inspect_das(no_rate); }, no_rate, "no sampling rate");
  const std::string no_spacing = edited_copy(file, "no_spacing.h5", [&](const std::string& p) {
    fx::delete_attribute(p, "/Acquisition", "SpatialSamplingInterval");
  });
  expect_error([&] { inspect_das(no_spacing, 1); }, no_spacing, "attribute 'SpatialSamplingInterval': missing");
  const std::string cube = edited_copy(file, "cube.h5", [&](const std::string& p) {
    fx::replace_dataset(p, fbe + "/FbeData[1]", {2, 3, 4});
  });
  expect_error([&] { inspect_das(cube, 1); }, cube, "FbeData[1]");
}

TEST_F(FieldToolReaders, XdasTiePointsGiveTimeAndDistance) {
  fx::Spec spec;
  const std::string file = path("xdas.nc");
  fx::write_xdas(file, spec);
  EXPECT_EQ(detect_das_format(file), "xdas");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.format_version, "CF-1.9");
  EXPECT_EQ(info.raw_type, "float64");
  EXPECT_EQ(info.start_time_ns, spec.start_ns / 1000000 * 1000000);  // the tie values are whole milliseconds
  expect_axes(info, spec, 0);
  expect_values(read_das(file));

  // More tie points on the same grid read the same; a gap is refused, naming the tie point.
  const std::string more = path("more_ties.nc");
  fx::write_xdas(more, spec, {0, 20, 40, int64_t(spec.samples) - 1});
  EXPECT_DOUBLE_EQ(inspect_das(more).sampling_rate_hz, info.sampling_rate_hz);
  const std::string gap = path("gap.nc");
  fx::write_xdas(gap, spec, {0, 20, 21, int64_t(spec.samples) - 1});
  expect_error([&] { inspect_das(gap); }, gap, "tie point 2 (index 21");
}

TEST_F(FieldToolReaders, XdasBadInputNamesTheField) {
  fx::Spec spec;
  const std::string file = path("xdas.nc");
  fx::write_xdas(file, spec);
  const std::string no_units = edited_copy(file, "no_units.nc", [&](const std::string& p) {
    fx::delete_attribute(p, "/time_values", "units");
  });
  expect_error([&] { inspect_das(no_units); }, no_units, "/time_values: attribute 'units'");
  const std::string no_ties = edited_copy(file, "no_ties.nc", [&](const std::string& p) {
    fx::delete_object(p, "/distance_indices");
  });
  expect_error([&] { inspect_das(no_ties); }, no_ties, "/distance_indices: missing dataset");
  const std::string no_dims = edited_copy(file, "no_dims.nc", [&](const std::string& p) {
    fx::delete_attribute(p, "/__values__", "_Netcdf4Coordinates");
  });
  expect_error([&] { inspect_das(no_dims); }, no_dims, "_Netcdf4Coordinates");
}

TEST_F(FieldToolReaders, DasvaderFollowsReferencesToAnonymousArrays) {
  fx::Spec spec;
  const std::string file = path("vader.jld2");
  fx::write_dasvader(file, spec);
  EXPECT_EQ(detect_das_format(file), "dasvader");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.time_axis, 1);
  EXPECT_EQ(info.start_time_ns, spec.start_ns / 1000000 * 1000000);  // Julia DateTime: milliseconds
  expect_axes(info, spec, 200);
  expect_values(read_das(file));
  ReadWindow w;
  w.first_channel = 3;
  w.num_channels = 4;
  w.first_sample = 10;
  w.num_samples = 20;
  const DasRecord part = read_das(file, w);
  EXPECT_FLOAT_EQ(part.at(0, 0), fx::value(3, 10));
  EXPECT_DOUBLE_EQ(part.distance_start_m, 200 + 3 * spec.spacing_m);
}

TEST_F(FieldToolReaders, EveryNewReaderRefusesTruncatedAndCorruptedFiles) {
  fx::Spec spec;
  spec.channels = 64;
  spec.samples = 512;
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> writers = {
      {"dasdae.h5", [&](const std::string& p) { fx::write_dasdae(p, spec); }},
      {"simple.h5", [&](const std::string& p) { fx::write_h5simple(p, spec); }},
      {"fbe.h5", [&](const std::string& p) { fx::write_prodml_fbe(p, spec, 2); }},
      {"xdas.nc", [&](const std::string& p) { fx::write_xdas(p, spec); }},
      {"vader.jld2", [&](const std::string& p) { fx::write_dasvader(p, spec); }},
  };
  for (const auto& [name, write] : writers) {
    SCOPED_TRACE(name);
    const std::string file = path(name);
    write(file);
    const size_t size = fx::file_size(file);
    for (size_t keep : {size_t{0}, size_t{600}, size / 2, size - 8}) {
      const std::string cut = path("cut_" + std::to_string(keep) + "_" + name);
      fx::copy_file(file, cut);
      fx::truncate_file(cut, keep);
      expect_error([&] { read_das(cut); }, cut, "");
    }
    // Overwritten bytes (superblock, object headers, data) may leave a readable file; they
    // must never crash or hang, and any error must name the file.
    for (size_t offset : {size_t{0}, size_t{100}, size_t{1000}, size / 3, size / 2}) {
      const std::string bad = path("bad_" + std::to_string(offset) + "_" + name);
      fx::copy_file(file, bad);
      std::string bytes(64, '\xff');
      std::fstream out(bad, std::ios::in | std::ios::out | std::ios::binary);
      out.seekp(static_cast<std::streamoff>(offset));
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.close();
      try {
        read_das(bad);
      } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace dasnet
