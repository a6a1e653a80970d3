// Sentek Instrument DAS files (`.das`, DASCore's "sentek" version 5), laid out as DASCore's
// reader (dascore/io/sentek) defines them, all little-endian float32:
//   6 header values  sensor_num (channels), measurement_count (samples), sampling_interval,
//                    strain_rate (1: strain rate, 0: strain), trigger_position, decimation_factor
//   sensor_num       distance of each channel (m)
//   measurement_count  time of each sample (s, from an instrument clock)
//   measurement_count x sensor_num samples, time-major.
// The file size must be exactly that (detection checks it is no larger), and the
// stated times and distances are checked rather than trusted.
// DASCore seeks to absolute offsets where it means relative ones: it takes the last distance
// from byte 4 (sensor_num - 1), the times from inside the distances, and the samples from byte
// 4 measurement_count, so its times, step and values are off (tests/test_dascore_agreement.cpp
// says how). Here each array is read where the layout puts it.
// Time: the file holds no absolute time. As DASCore does, the start is the time in the file
// name (..._YYYYMMDDhhmmssmmm.das, the instrument's convention) plus the first sample's stated
// time; a file renamed otherwise is read with start_time_known = false. The rate is
// 1 / sampling_interval (microseconds: the stated times step by it; DASCore's comment says
// nanoseconds, which the times contradict). The stated distances need not be even: the record
// keeps the first and the mean step ((last - first) / (channels - 1)).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/binary_format.h"
#include "io/das_read_plan.h"
#include "io/das_time.h"

namespace dasnet::detail {
namespace {

constexpr uint64_t kHeaderValues = 6;

bool nearly_whole(float v) { return std::isfinite(v) && std::fabs(v - std::round(v)) < 1e-5f * std::max(1.0f, v); }

// A stated count as an integer, or 0 when it is not a plausible one (> 1, below 2^31).
uint64_t count_of(float v) { return v > 1 && v < 2147483648.0f ? static_cast<uint64_t>(v) : 0; }

// The layout's size for `channels` x `samples`, or 0 when it would overflow.
uint64_t layout_bytes(uint64_t channels, uint64_t samples) {
  if (channels == 0 || channels > (uint64_t{1} << 31) || samples > (uint64_t{1} << 40) / channels) return 0;
  return 4 * (kHeaderValues + channels + samples + channels * samples);
}

class SentekRecord final : public BinaryRecord {
 public:
  explicit SentekRecord(const std::string& path) : file_(path) {}
  void parse();
  void read_samples(DasRecord& rec) const override {
    const size_t row = info.num_channels;
    std::vector<float> rows(rec.num_samples * row);
    file_.read_at(data_offset_ + 4 * rec.first_sample * row, rows.data(), rows.size() * 4, "samples");
    transpose_samples(SampleType::kFloat32, rows.data(), rec.num_samples, row, rec.first_channel, rec.num_channels,
                      rec.data.data(), rec.num_samples, 0);
  }

 private:
  std::vector<float> floats(uint64_t first, uint64_t count, const std::string& what) const {
    std::vector<float> v(count);
    file_.read_at(4 * first, v.data(), 4 * count, what);
    return v;
  }
  void describe_time(const std::vector<float>& header, const std::vector<float>& times);

  BinaryFile file_;
  uint64_t data_offset_ = 0;
};

// The time the instrument writes into the file name, or nullopt for another name.
std::optional<int64_t> time_from_name(const std::string& path) {
  static const std::regex stamp(".*_(\\d{4})(\\d{2})(\\d{2})(\\d{2})(\\d{2})(\\d{2})(\\d{3})\\.das");
  std::smatch m;
  const std::string name = std::filesystem::path(path).filename().string();
  if (!std::regex_match(name, m, stamp)) return std::nullopt;
  return parse_iso8601_ns(m[1].str() + "-" + m[2].str() + "-" + m[3].str() + "T" + m[4].str() + ":" + m[5].str() +
                          ":" + m[6].str() + "." + m[7].str() + "Z");
}

void SentekRecord::describe_time(const std::vector<float>& header, const std::vector<float>& times) {
  const double interval_us = header[2];
  if (!std::isfinite(interval_us) || interval_us <= 0)
    file_.fail("header sampling_interval", "must be a positive number, found " + std::to_string(interval_us));
  const double stated_span = double(times.back()) - double(times.front());
  const double span = interval_us * 1e-6 * double(times.size() - 1);
  // float32 times resolve ~1/64 s near 2 days: allow that much besides 1 %.
  const double resolution = std::ldexp(1.0, std::ilogb(std::max(1.0f, std::fabs(times.back()))) - 23);
  if (!std::isfinite(stated_span) || std::fabs(stated_span - span) > 0.01 * span + 2 * resolution)
    file_.fail("sample times", "span " + std::to_string(stated_span) + " s, but " + std::to_string(times.size()) +
                                   " samples of sampling_interval " + std::to_string(interval_us) + " us span " +
                                   std::to_string(span) + " s (corrupted file)");
  if (!(std::fabs(times.front()) < 1e9))
    file_.fail("sample times", "first time " + std::to_string(times.front()) + " s is not a plausible clock reading");
  info.sampling_rate_hz = 1e6 / interval_us;
  const std::optional<int64_t> named = time_from_name(file_.path());
  info.start_time_known = named.has_value();
  info.start_time_ns = named ? *named + std::llround(double(times.front()) * 1e9) : 0;
}

void SentekRecord::parse() {
  const std::vector<float> header = floats(0, kHeaderValues, "header");
  const uint64_t channels = count_of(header[0]), samples = count_of(header[1]);
  if (layout_bytes(channels, samples) != file_.size())
    file_.fail("header sensor_num / measurement_count",
               std::to_string(channels) + " channels x " + std::to_string(samples) + " samples need " +
                   std::to_string(layout_bytes(channels, samples)) + " bytes, the file has " +
                   std::to_string(file_.size()) + " (truncated or corrupted file)");
  const std::vector<float> distances = floats(kHeaderValues, channels, "channel distances");
  const std::vector<float> times = floats(kHeaderValues + channels, samples, "sample times");
  data_offset_ = 4 * (kHeaderValues + channels + samples);
  const double spacing = (double(distances.back()) - distances.front()) / double(channels - 1);
  if (!std::isfinite(spacing) || !std::isfinite(distances.front()) || spacing <= 0)
    file_.fail("channel distances", "not increasing (first " + std::to_string(distances.front()) + " m, last " +
                                        std::to_string(distances.back()) + " m)");
  info.format_version = "5";
  info.data_path = "samples at byte " + std::to_string(data_offset_);
  info.stored_order = "time x channel";
  info.time_axis = 0;
  info.raw_type = "float32";
  info.num_channels = channels;
  info.num_samples = samples;
  info.distance_start_m = distances.front();
  info.channel_spacing_m = spacing;
  info.units = header[3] == 1 ? "strain rate" : "strain";
  describe_time(header, times);
}

}  // namespace

// DASCore's checks of the header (channel and sample counts whole numbers > 1, the strain-rate
// flag 0 or 1) and a file no larger than the layout's size (the header alone is weak; a shorter
// file is a truncated one, which the reader refuses naming the counts).
bool is_sentek(const std::string& head, uint64_t file_size) {
  if (head.size() < 4 * kHeaderValues) return false;
  float h[kHeaderValues];
  std::memcpy(h, head.data(), sizeof h);
  const uint64_t channels = count_of(h[0]), samples = count_of(h[1]);
  if (channels == 0 || samples == 0 || !nearly_whole(h[0]) || !nearly_whole(h[1]) || !(h[3] == 0 || h[3] == 1))
    return false;
  return layout_bytes(channels, samples) >= file_size && file_size > 4 * (kHeaderValues + channels);
}

std::unique_ptr<BinaryRecord> open_sentek(const std::string& path, size_t record) {
  return open_single_record<SentekRecord>(path, record);
}

}  // namespace dasnet::detail
