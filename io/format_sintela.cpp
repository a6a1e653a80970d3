// Sintela ONYX binary files, version 3, as DASCore's reader (dascore/io/sintela_binary)
// defines them: packets back to back, each a 96-byte little-endian header (sync word
// 0x11223344, header size, version 3, sample count, start time in ns, channels, samples per
// packet, rate, channel spacing, gauge length, start channel, channel step, GPS fields, data
// type) followed by samples x channels float32 (time-major). DASCore assumes the packets are
// contiguous and reads only the first header; here every packet's header is checked (same
// shape, start one packet after the previous within half a sample), so a gap is reported
// rather than glossed over. Distance: start_channel x spacing, step channel_step x spacing.
// (Sintela's protocol-buffer stream, "PBUFMETA" files, has no public definition: not read.)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/binary_format.h"
#include "io/das_read_plan.h"

namespace dasnet::detail {
namespace {

constexpr uint32_t kSyncWord = 0x11223344, kVersion = 3, kHeaderBytes = 96;

struct PacketHeader {
  uint64_t start_ns;
  uint32_t channels, samples;
  float rate_hz, spacing_m, gauge_m;
  uint32_t start_channel, channel_step;
  uint8_t data_type;
};

PacketHeader read_header(const BinaryFile& f, uint64_t at, const std::string& what) {
  if (f.read_le<uint32_t>(at, what + " sync word") != kSyncWord) f.fail(what, "sync word is not 0x11223344 (corrupted file)");
  if (f.read_le<uint32_t>(at + 4, what + " header size") != kHeaderBytes || f.read_le<uint32_t>(at + 8, what) != kVersion)
    f.fail(what, "header size or version differ from version 3's 96 bytes (corrupted file)");
  PacketHeader h{};
  h.start_ns = f.read_le<uint64_t>(at + 20, what + " start_time_ns");
  h.channels = f.read_le<uint32_t>(at + 28, what + " num_channels");
  h.samples = f.read_le<uint32_t>(at + 32, what + " num_samples");
  h.rate_hz = f.read_le<float>(at + 36, what + " sample_rate");
  h.spacing_m = f.read_le<float>(at + 40, what + " channel_spacing");
  h.gauge_m = f.read_le<float>(at + 44, what + " gauge_length");
  h.start_channel = f.read_le<uint32_t>(at + 52, what + " start_channel");
  h.channel_step = f.read_le<uint32_t>(at + 56, what + " channel_step");
  h.data_type = f.read_le<uint8_t>(at + 76, what + " data_type");
  return h;
}

class SintelaRecord final : public BinaryRecord {
 public:
  explicit SintelaRecord(const std::string& path) : file_(path) {}
  void parse();
  void read_samples(DasRecord& rec) const override;

 private:
  void describe(const PacketHeader& h, uint64_t packets);
  BinaryFile file_;
  uint64_t packet_bytes_ = 0, rows_per_packet_ = 0;
};

void SintelaRecord::parse() {
  const PacketHeader first = read_header(file_, 0, "packet 0 header");
  if (first.channels == 0 || first.samples == 0)
    file_.fail("packet 0 header num_channels / num_samples", "zero (empty data)");
  if (!std::isfinite(first.rate_hz) || first.rate_hz <= 0)
    file_.fail("packet 0 header sample_rate", "must be a positive number, found " + std::to_string(first.rate_hz));
  packet_bytes_ = kHeaderBytes + uint64_t{4} * first.channels * first.samples;
  rows_per_packet_ = first.samples;
  if (file_.size() % packet_bytes_ != 0)
    file_.fail("packets", "the file's " + std::to_string(file_.size()) + " bytes are not a whole number of " +
                              std::to_string(packet_bytes_) + "-byte packets (truncated or corrupted file)");
  const uint64_t packets = file_.size() / packet_bytes_;
  const double packet_ns = first.samples * 1e9 / first.rate_hz;
  for (uint64_t k = 1; k < packets; ++k) {
    const std::string what = "packet " + std::to_string(k) + " header";
    const PacketHeader h = read_header(file_, k * packet_bytes_, what);
    if (h.channels != first.channels || h.samples != first.samples || h.rate_hz != first.rate_hz)
      file_.fail(what, "channels, samples or rate differ from packet 0's");
    const double expected = double(first.start_ns) + k * packet_ns;
    if (std::fabs(double(h.start_ns) - expected) > 0.5e9 / first.rate_hz)
      file_.fail(what, "starts at " + std::to_string(h.start_ns) + " ns, not one packet after the previous (" +
                           std::to_string(std::uint64_t(std::max(0.0, std::min(expected, 1.8e19)))) +
                           " ns): a gap or overlap");
  }
  describe(first, packets);
}

void SintelaRecord::describe(const PacketHeader& h, uint64_t packets) {
  static const char* const kUnits[] = {"radians", "radians", "radians/s", "microstrain", "microstrain/s"};
  info.format_version = "3";
  info.data_path = std::to_string(packets) + " packets of " + std::to_string(h.samples) + " samples";
  info.stored_order = "time x channel";
  info.time_axis = 0;
  info.raw_type = "float32";
  info.num_channels = h.channels;
  info.num_samples = packets * h.samples;
  info.start_time_ns = static_cast<int64_t>(h.start_ns);
  info.sampling_rate_hz = h.rate_hz;
  info.channel_spacing_m = double(h.channel_step) * h.spacing_m;
  info.distance_start_m = double(h.start_channel) * h.spacing_m;
  info.channel_step = h.channel_step;
  info.first_locus = h.start_channel;
  info.gauge_length_m = h.gauge_m;
  info.units = h.data_type < 5 ? kUnits[h.data_type] : "radians";  // DASCore's default: phase
}

void SintelaRecord::read_samples(DasRecord& rec) const {
  const size_t row_values = info.num_channels;
  std::vector<float> staging;
  for (uint64_t done = 0; done < rec.num_samples;) {
    const uint64_t row = rec.first_sample + done, packet = row / rows_per_packet_, in_packet = row % rows_per_packet_;
    const uint64_t take = std::min<uint64_t>(rec.num_samples - done, rows_per_packet_ - in_packet);
    staging.resize(take * row_values);
    file_.read_at(packet * packet_bytes_ + kHeaderBytes + in_packet * row_values * 4, staging.data(),
                  staging.size() * 4, "packet " + std::to_string(packet) + " samples");
    transpose_samples(SampleType::kFloat32, staging.data(), take, row_values, rec.first_channel, rec.num_channels,
                      rec.data.data(), rec.num_samples, done);
    done += take;
  }
}

}  // namespace

bool is_sintela_binary(const std::string& head, uint64_t file_size) {
  if (head.size() < kHeaderBytes || file_size < kHeaderBytes) return false;
  uint32_t base[3];
  std::memcpy(base, head.data(), sizeof base);
  return base[0] == kSyncWord && base[1] == kHeaderBytes && base[2] == kVersion;
}

std::unique_ptr<BinaryRecord> open_sintela_binary(const std::string& path, size_t record) {
  return open_single_record<SintelaRecord>(path, record);
}

}  // namespace dasnet::detail
