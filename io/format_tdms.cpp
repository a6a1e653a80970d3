// Silixa iDAS TDMS files (NI LabVIEW TDMS, file versions 4712 and 4713), read as NI's "TDMS
// file format internal structure" describes them: segments of a 28-byte lead-in, metadata
// (objects, raw data indices, properties) and raw data in chunks, interleaved or not. Every
// channel object with raw data is one DAS channel; the DAS metadata are Silixa's properties
// of the root object, taken as DASCore takes them: time of the first sample GPSTimeStamp,
// rate SamplingFrequency[Hz], distance start StartPosition[m] and step SpatialResolution[m]
// times Fibre Length Multiplier. DAQmx raw data and big-endian segments are refused.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/binary_format.h"
#include "io/das_read_plan.h"

namespace dasnet::detail {
namespace {

constexpr uint64_t kLeadInBytes = 28;
constexpr uint32_t kTocMetaData = 1u << 1, kTocNewObjList = 1u << 2, kTocRawData = 1u << 3,
                   kTocInterleaved = 1u << 5, kTocBigEndian = 1u << 6, kTocDaqmx = 1u << 7;
constexpr uint64_t kIncompleteSegment = ~uint64_t{0};  // next-segment offset of a file whose writer stopped
constexpr uint32_t kNoRawData = 0xFFFFFFFF, kSameRawIndex = 0;
constexpr int64_t kSeconds1904To1970 = 2082844800;
// tdsDataType codes (NI) used here.
constexpr uint32_t kI8 = 1, kI16 = 2, kI32 = 3, kI64 = 4, kU8 = 5, kU16 = 6, kU32 = 7, kU64 = 8, kF32 = 9,
                   kF64 = 10, kF32Unit = 0x19, kF64Unit = 0x1A, kString = 0x20, kBool = 0x21, kTimeStamp = 0x44,
                   kComplex64 = 0x08000C, kComplex128 = 0x10000D;

struct Property {
  std::optional<double> number;
  std::optional<int64_t> time_ns;  // a tdsTypeTimeStamp, as UTC ns since the Unix epoch
  std::string text;
};

// One object of the current object list and its raw data index.
struct TdmsObject {
  std::string path;
  bool has_data = false;  // in the current segment
  uint32_t type = 0;
  uint64_t values = 0;    // per chunk
};

struct Segment {
  uint64_t data_offset = 0;
  uint64_t rows = 0;            // values per channel in the segment (chunks x values per chunk)
  uint64_t values_per_chunk = 0;
  bool interleaved = false;
};

// A field's name for messages, "<pre><mid><post>", put together only when a message needs it:
// a file of a thousand channel objects would otherwise build several strings per field.
struct Field {
  const char* pre;
  const std::string& mid;
  const char* post;
};
inline const std::string& field_name(const std::string& what) { return what; }
inline std::string field_name(const char* what) { return what; }
inline std::string field_name(const Field& f) { return f.pre + f.mid + f.post; }

// Sequential bounded reads of one segment's metadata.
class Cursor {
 public:
  Cursor(const BinaryFile& file, uint64_t pos, uint64_t end) : file_(file), pos_(pos), end_(end) {}
  template <typename T, typename What>
  T next(const What& what) {
    if (sizeof(T) > end_ - pos_)
      file_.fail(field_name(what), "runs past the segment's metadata at byte " + std::to_string(pos_));
    T value;
    copy_out(&value, sizeof value, what);
    return value;
  }
  template <typename What>
  std::string text(const What& what) {
    if (sizeof(uint32_t) > end_ - pos_)
      file_.fail(field_name(what) + " (length)", "runs past the segment's metadata at byte " + std::to_string(pos_));
    uint32_t length = 0;
    copy_out(&length, sizeof length, what);
    if (length > end_ - pos_)
      file_.fail(field_name(what), "string of " + std::to_string(length) + " bytes runs past the metadata");
    std::string out(length, '\0');
    copy_out(out.data(), length, what);
    return out;
  }
  [[noreturn]] void fail(const std::string& what, const std::string& problem) const { file_.fail(what, problem); }
  template <typename What>
  void skip(uint64_t bytes, const What& what) {
    if (bytes > end_ - pos_) file_.fail(field_name(what), "runs past the segment's metadata");
    pos_ += bytes;
  }

 private:
  // Copies `bytes` (already checked to lie before end_) at pos_ and advances. The metadata is
  // read in windows of up to 1 MiB: a file of a thousand channel objects is a few reads, not
  // one read per field.
  template <typename What>
  void copy_out(void* out, uint64_t bytes, const What& what) {
    if (pos_ < window_at_ || pos_ + bytes > window_at_ + window_.size()) {
      window_.resize(std::min<uint64_t>(end_ - pos_, std::max<uint64_t>(bytes, uint64_t{1} << 20)));
      file_.read_at(pos_, window_.data(), window_.size(), field_name(what));
      window_at_ = pos_;
    }
    std::memcpy(out, window_.data() + (pos_ - window_at_), bytes);
    pos_ += bytes;
  }

  const BinaryFile& file_;
  uint64_t pos_, end_;
  std::vector<char> window_;
  uint64_t window_at_ = 0;
};

// nullopt for a time stamp outside the years int64 nanoseconds hold (a corrupted one).
std::optional<int64_t> tdms_time_ns(uint64_t fraction, int64_t seconds_since_1904) {
  constexpr int64_t kSecondsLimit = 9000000000;  // about 1685..2255
  if (seconds_since_1904 > kSecondsLimit || seconds_since_1904 < -kSecondsLimit + kSeconds1904To1970) return std::nullopt;
  const int64_t whole = (seconds_since_1904 - kSeconds1904To1970) * 1000000000LL;
  return whole + static_cast<int64_t>((static_cast<unsigned __int128>(fraction) * 1000000000u) >> 64);
}

Property read_property_value(Cursor& in, uint32_t type, const Field& what) {
  Property p;
  switch (type) {
    case kI8: p.number = in.next<int8_t>(what); break;
    case kI16: p.number = in.next<int16_t>(what); break;
    case kI32: p.number = in.next<int32_t>(what); break;
    case kI64: p.number = static_cast<double>(in.next<int64_t>(what)); break;
    case kU8: p.number = in.next<uint8_t>(what); break;
    case kU16: p.number = in.next<uint16_t>(what); break;
    case kU32: p.number = in.next<uint32_t>(what); break;
    case kU64: p.number = static_cast<double>(in.next<uint64_t>(what)); break;
    case kF32: case kF32Unit: p.number = in.next<float>(what); break;
    case kF64: case kF64Unit: p.number = in.next<double>(what); break;
    case kBool: p.number = in.next<uint8_t>(what) != 0; break;
    case kString: p.text = in.text(what); break;
    case kComplex64: in.skip(8, what); break;
    case kComplex128: in.skip(16, what); break;
    case kTimeStamp: {
      const uint64_t fraction = in.next<uint64_t>(what);
      p.time_ns = tdms_time_ns(fraction, in.next<int64_t>(what));
      break;
    }
    default: in.fail(field_name(what), "unsupported tdsDataType " + std::to_string(type));
  }
  return p;
}

SampleType sample_type_of(const BinaryFile& file, const std::string& channel, uint32_t type) {
  switch (type) {
    case kI16: return SampleType::kInt16;
    case kI32: return SampleType::kInt32;
    case kF32: case kF32Unit: return SampleType::kFloat32;
    case kF64: case kF64Unit: return SampleType::kFloat64;
    default:
      file.fail("channel " + channel, "raw data of tdsDataType " + std::to_string(type) +
                                          " is not DAS samples (int16, int32, float32 or float64)");
  }
}

class TdmsRecord final : public BinaryRecord {
 public:
  explicit TdmsRecord(const std::string& path) : file_(path) {}
  void parse();
  void read_samples(DasRecord& rec) const override;
  void read_stored(DasRecord& rec) const override;

 private:
  void read_metadata(uint64_t begin, uint64_t end, bool new_list);
  void read_object(Cursor& in, bool new_list, std::vector<TdmsObject>& list);
  void add_segment(uint64_t data_offset, uint64_t data_bytes, bool interleaved, bool incomplete);
  void describe();
  double number(const std::string& name) const;

  BinaryFile file_;
  std::vector<TdmsObject> objects_;             // the current object list
  std::map<std::string, Property> properties_;  // of the objects without raw data (root, groups)
  std::vector<std::string> channels_;           // the record's channels, from the first raw data
  SampleType type_ = SampleType::kInt16;
  std::vector<Segment> segments_;
  int version_ = 0;
};

void TdmsRecord::read_object(Cursor& in, bool new_list, std::vector<TdmsObject>& list) {
  const std::string path = in.text("object path");
  const auto field = [&](const char* tail) { return Field{"object ", path, tail}; };
  const auto what = [&] { return "object " + path; };
  auto known = std::find_if(objects_.begin(), objects_.end(), [&](const TdmsObject& o) { return o.path == path; });
  TdmsObject object = known != objects_.end() ? *known : TdmsObject{path};
  const uint32_t index = in.next<uint32_t>(field(" raw data index"));
  if (index == kNoRawData) {
    object.has_data = false;
  } else if (index == kSameRawIndex) {
    if (object.values == 0 && object.type == 0) file_.fail(what(), "raw data index 'same as before' with no earlier index");
    object.has_data = true;
  } else if (index == 0x69120000 || index == 0x69130000) {
    file_.fail(what(), "DAQmx raw data (not written by Silixa iDAS; not supported)");
  } else {
    object.type = in.next<uint32_t>(field(" data type"));
    const uint32_t dimension = in.next<uint32_t>(field(" array dimension"));
    if (dimension != 1) file_.fail(what(), "array dimension " + std::to_string(dimension) + " (TDMS allows only 1)");
    object.values = in.next<uint64_t>(field(" number of values"));
    if (object.type == kString) in.next<uint64_t>(field(" total size"));
    object.has_data = true;
  }
  const uint32_t count = in.next<uint32_t>(field(" number of properties"));
  for (uint32_t k = 0; k < count; ++k) {
    const std::string name = in.text(field(" property name"));
    const uint32_t type = in.next<uint32_t>(Field{"property '", name, "' type"});
    const Property value = read_property_value(in, type, Field{"property '", name, "'"});
    if (index == kNoRawData && object.values == 0) properties_.emplace(name, value);  // first statement wins
  }
  if (new_list || known == objects_.end()) {
    list.push_back(object);
  } else {
    *known = object;
  }
}

void TdmsRecord::read_metadata(uint64_t begin, uint64_t end, bool new_list) {
  Cursor in(file_, begin, end);
  const uint32_t count = in.next<uint32_t>("metadata number of objects");
  std::vector<TdmsObject> added;
  for (uint32_t k = 0; k < count; ++k) read_object(in, new_list, added);
  if (new_list) {
    objects_ = std::move(added);
  } else {
    objects_.insert(objects_.end(), added.begin(), added.end());
  }
}

void TdmsRecord::add_segment(uint64_t data_offset, uint64_t data_bytes, bool interleaved, bool incomplete) {
  std::vector<const TdmsObject*> with_data;
  for (const TdmsObject& o : objects_)
    if (o.has_data && o.values > 0) with_data.push_back(&o);
  if (with_data.empty() || data_bytes == 0) return;
  if (channels_.empty()) {
    for (const TdmsObject* o : with_data) channels_.push_back(o->path);
    type_ = sample_type_of(file_, with_data.front()->path, with_data.front()->type);
  }
  if (with_data.size() != channels_.size())
    file_.fail("segment at byte " + std::to_string(data_offset),
               std::to_string(with_data.size()) + " channels with raw data, the first segment has " +
                   std::to_string(channels_.size()));
  const uint64_t per_chunk = with_data.front()->values;
  for (size_t c = 0; c < with_data.size(); ++c) {
    const TdmsObject& o = *with_data[c];
    if (o.path != channels_[c]) file_.fail("channel " + o.path, "in a later segment at the place of " + channels_[c]);
    if (sample_type_of(file_, o.path, o.type) != type_ || o.values != per_chunk)
      file_.fail("channel " + o.path, "type or values per chunk differ from channel " + channels_.front() +
                                          " (a DAS record needs one matrix)");
  }
  const uint64_t row_bytes = channels_.size() * sample_bytes(type_);
  if (per_chunk > data_bytes / row_bytes)
    file_.fail("segment at byte " + std::to_string(data_offset),
               "raw data index says " + std::to_string(per_chunk) + " values per channel, more than the " +
                   std::to_string(data_bytes) + " bytes of raw data hold (truncated or corrupted file)");
  if (interleaved) {  // rows of all channels back to back; iDAS' stated chunk need not divide them
    if (data_bytes % row_bytes != 0 && !incomplete)
      file_.fail("segment at byte " + std::to_string(data_offset),
                 std::to_string(data_bytes) + " bytes of raw data are not a whole number of " +
                     std::to_string(row_bytes) + "-byte rows (truncated or corrupted file)");
    segments_.push_back({data_offset, data_bytes / row_bytes, per_chunk, true});
    return;
  }
  const uint64_t chunk_bytes = per_chunk * row_bytes;
  if (data_bytes % chunk_bytes != 0 && !incomplete)
    file_.fail("segment at byte " + std::to_string(data_offset),
               std::to_string(data_bytes) + " bytes of raw data are not a whole number of " +
                   std::to_string(chunk_bytes) + "-byte chunks (truncated or corrupted file)");
  segments_.push_back({data_offset, data_bytes / chunk_bytes * per_chunk, per_chunk, interleaved});
}

void TdmsRecord::parse() {
  for (uint64_t offset = 0; offset < file_.size();) {
    const std::string at = "segment at byte " + std::to_string(offset);
    char tag[4];
    file_.read_at(offset, tag, 4, at + " lead-in");
    if (std::string(tag, 4) != "TDSm") file_.fail(at, "lead-in tag is not TDSm (corrupted file)");
    const uint32_t toc = file_.read_le<uint32_t>(offset + 4, at + " ToC mask");
    const uint32_t version = file_.read_le<uint32_t>(offset + 8, at + " version");
    if (toc & kTocBigEndian) file_.fail(at, "big-endian TDMS segment (not supported)");
    if (toc & kTocDaqmx) file_.fail(at, "DAQmx raw data (not written by Silixa iDAS; not supported)");
    if (version != 4712 && version != 4713) file_.fail(at, "TDMS version " + std::to_string(version) + " (4712 or 4713 expected)");
    if (version_ == 0) version_ = static_cast<int>(version);
    const uint64_t next = file_.read_le<uint64_t>(offset + 12, at + " next segment offset");
    const uint64_t raw = file_.read_le<uint64_t>(offset + 20, at + " raw data offset");
    const uint64_t body = offset + kLeadInBytes, room = file_.size() - std::min(file_.size(), body);
    const bool incomplete = next == kIncompleteSegment;
    const uint64_t length = incomplete ? room : next;
    if (length > room)
      file_.fail(at, "next segment offset " + std::to_string(next) + " runs past the end of the file (" +
                         std::to_string(room) + " bytes follow the lead-in; truncated file)");
    if (raw > length) file_.fail(at, "raw data offset " + std::to_string(raw) + " beyond the segment's " + std::to_string(length) + " bytes");
    if (toc & kTocMetaData) read_metadata(body, body + raw, (toc & kTocNewObjList) != 0);
    if (toc & kTocRawData) add_segment(body + raw, length - raw, (toc & kTocInterleaved) != 0, incomplete);
    offset = body + length;
  }
  if (channels_.empty()) file_.fail("raw data", "no channel holds raw data");
  describe();
}

double TdmsRecord::number(const std::string& name) const {
  const auto it = properties_.find(name);
  if (it == properties_.end()) file_.fail("property '" + name + "'", "missing (Silixa iDAS files state it in the root object)");
  if (!it->second.number) file_.fail("property '" + name + "'", "not a number");
  return *it->second.number;
}

void TdmsRecord::describe() {
  info.format_version = std::to_string(version_);
  info.data_path = "raw data of " + std::to_string(channels_.size()) + " channels (" + channels_.front() + " ...)";
  info.raw_type = sample_type_name(type_);
  info.num_channels = channels_.size();
  for (const Segment& s : segments_) info.num_samples += s.rows;
  const bool interleaved = segments_.front().interleaved;
  info.time_axis = interleaved ? 0 : 1;
  info.stored_order = interleaved ? "time x channel" : "channel x time (per chunk)";
  const double rate = number("SamplingFrequency[Hz]");
  if (!std::isfinite(rate) || rate <= 0) file_.fail("property 'SamplingFrequency[Hz]'", "must be a positive number");
  info.sampling_rate_hz = rate;
  const auto stamp = properties_.find("GPSTimeStamp");
  if (stamp == properties_.end() || !stamp->second.time_ns)
    file_.fail("property 'GPSTimeStamp'", stamp == properties_.end() ? "missing" : "not a TDMS time stamp");
  info.start_time_ns = *stamp->second.time_ns;
  const auto multiplier = properties_.find("Fibre Length Multiplier");
  const double stretch = multiplier != properties_.end() && multiplier->second.number ? *multiplier->second.number : 1.0;
  info.channel_spacing_m = number("SpatialResolution[m]") * stretch;
  info.distance_start_m = number("StartPosition[m]");
  if (!std::isfinite(info.channel_spacing_m) || !std::isfinite(info.distance_start_m))
    file_.fail("property 'SpatialResolution[m]'", "distance is not finite");
  const auto gauge = properties_.find("GaugeLength");
  if (gauge != properties_.end() && gauge->second.number) info.gauge_length_m = *gauge->second.number;
  info.units = unknown_units_for(info.raw_type);  // Silixa states no scale to strain rate
}

// Interleaved segments are time-major rows of all channels, chunk after chunk: rows are read in
// large blocks (the whole window at once where it fits the staging cap) and transposed.
void read_interleaved(const BinaryFile& file, const Segment& s, SampleType type, size_t stored_channels,
                      uint64_t first_row, uint64_t rows, DasRecord& rec, size_t out_col) {
  constexpr size_t kMaxStagingBytes = size_t{64} << 20;
  const size_t row_bytes = stored_channels * sample_bytes(type);
  const uint64_t rows_per_read = std::max<uint64_t>(1, kMaxStagingBytes / row_bytes);
  std::vector<unsigned char> staging;
  for (uint64_t done = 0; done < rows;) {
    const uint64_t take = std::min(rows - done, rows_per_read);
    staging.resize(take * row_bytes);
    file.read_at(s.data_offset + (first_row + done) * row_bytes, staging.data(), staging.size(), "raw data");
    transpose_samples(type, staging.data(), take, stored_channels, rec.first_channel, rec.num_channels,
                      rec.data.data(), rec.num_samples, out_col + done);
    done += take;
  }
}

// Non-interleaved chunks hold each channel's values in one run: one read per channel run.
void read_chunked(const BinaryFile& file, const Segment& s, SampleType type, size_t stored_channels,
                  uint64_t first_row, uint64_t rows, DasRecord& rec, size_t out_col) {
  const size_t bytes = sample_bytes(type);
  std::vector<unsigned char> staging;
  for (uint64_t done = 0; done < rows;) {
    const uint64_t row = first_row + done, chunk = row / s.values_per_chunk, in_chunk = row % s.values_per_chunk;
    const uint64_t take = std::min(rows - done, s.values_per_chunk - in_chunk);
    const uint64_t chunk_offset = s.data_offset + chunk * s.values_per_chunk * stored_channels * bytes;
    staging.resize(take * bytes);
    for (size_t c = 0; c < rec.num_channels; ++c) {
      const uint64_t run = (rec.first_channel + c) * s.values_per_chunk + in_chunk;
      file.read_at(chunk_offset + run * bytes, staging.data(), staging.size(), "raw data");
      transpose_samples(type, staging.data(), take, 1, 0, 1, rec.data.data() + c * rec.num_samples, 0,
                        out_col + done);
    }
    done += take;
  }
}

void TdmsRecord::read_samples(DasRecord& rec) const {
  uint64_t base = 0;  // first sample of the segment in the record
  const uint64_t t0 = rec.first_sample, t1 = t0 + rec.num_samples;
  for (const Segment& s : segments_) {
    const uint64_t a = std::max(t0, base), b = std::min(t1, base + s.rows);
    if (a < b) {
      const auto read = s.interleaved ? read_interleaved : read_chunked;
      read(file_, s, type_, channels_.size(), a - base, b - a, rec, static_cast<size_t>(a - t0));
    }
    base += s.rows;
  }
}

// Interleaved rows [first_row, +rows) of a segment into time-major rec.stored from row
// `out_row`: all channels in one read straight into the destination, a channel window through
// a bounded staging buffer.
void copy_interleaved(const BinaryFile& file, const Segment& s, size_t bytes, size_t stored_channels,
                      uint64_t first_row, uint64_t rows, DasRecord& rec, size_t out_row) {
  const size_t row_bytes = stored_channels * bytes, out_row_bytes = rec.num_channels * bytes;
  unsigned char* out = rec.stored.data() + out_row * out_row_bytes;
  if (rec.num_channels == stored_channels) {
    file.read_at_parallel(s.data_offset + first_row * row_bytes, out, rows * row_bytes, "raw data");
    return;
  }
  const uint64_t rows_per_read = std::max<uint64_t>(1, (size_t{64} << 20) / row_bytes);
  std::vector<unsigned char> staging;
  for (uint64_t done = 0; done < rows;) {
    const uint64_t take = std::min(rows - done, rows_per_read);
    staging.resize(take * row_bytes);
    file.read_at(s.data_offset + (first_row + done) * row_bytes, staging.data(), staging.size(), "raw data");
    for (uint64_t r = 0; r < take; ++r)
      std::memcpy(out + (done + r) * out_row_bytes, staging.data() + r * row_bytes + rec.first_channel * bytes,
                  out_row_bytes);
    done += take;
  }
}

// Non-interleaved rows [first_row, +rows) into channel-major rec.stored from column `out_col`:
// each channel's run of each chunk read straight into its place.
void copy_chunked(const BinaryFile& file, const Segment& s, size_t bytes, size_t stored_channels,
                  uint64_t first_row, uint64_t rows, DasRecord& rec, size_t out_col) {
  for (uint64_t done = 0; done < rows;) {
    const uint64_t row = first_row + done, chunk = row / s.values_per_chunk, in_chunk = row % s.values_per_chunk;
    const uint64_t take = std::min(rows - done, s.values_per_chunk - in_chunk);
    const uint64_t chunk_offset = s.data_offset + chunk * s.values_per_chunk * stored_channels * bytes;
    for (size_t c = 0; c < rec.num_channels; ++c) {
      const uint64_t run = (rec.first_channel + c) * s.values_per_chunk + in_chunk;
      file.read_at(chunk_offset + run * bytes, rec.stored.data() + (c * rec.num_samples + out_col + done) * bytes,
                   take * bytes, "raw data");
    }
    done += take;
  }
}

// Time-major where every segment read is interleaved, channel-major where none is; a file that
// mixes both layouts in the window is converted to float32 (BinaryRecord's default).
void TdmsRecord::read_stored(DasRecord& rec) const {
  const uint64_t t0 = rec.first_sample, t1 = t0 + rec.num_samples;
  size_t interleaved = 0, chunked = 0;
  uint64_t base = 0;
  for (const Segment& s : segments_) {
    if (std::max(t0, base) < std::min(t1, base + s.rows)) (s.interleaved ? interleaved : chunked)++;
    base += s.rows;
  }
  if (interleaved > 0 && chunked > 0) return BinaryRecord::read_stored(rec);
  const size_t bytes = sample_bytes(type_);
  rec.stored_type = sample_type_name(type_);
  rec.stored_time_major = interleaved > 0;
  rec.stored.resize(rec.num_channels * rec.num_samples * bytes);
  base = 0;
  for (const Segment& s : segments_) {
    const uint64_t a = std::max(t0, base), b = std::min(t1, base + s.rows);
    if (a < b) {
      const auto copy = s.interleaved ? copy_interleaved : copy_chunked;
      copy(file_, s, bytes, channels_.size(), a - base, b - a, rec, static_cast<size_t>(a - t0));
    }
    base += s.rows;
  }
}

}  // namespace

bool is_tdms(const std::string& head, uint64_t) {
  if (head.size() < kLeadInBytes || head.compare(0, 4, "TDSm") != 0) return false;
  uint32_t version = 0;
  std::memcpy(&version, head.data() + 8, 4);
  return version == 4712 || version == 4713;
}

std::unique_ptr<BinaryRecord> open_tdms(const std::string& path, size_t record) {
  return open_single_record<TdmsRecord>(path, record);
}

}  // namespace dasnet::detail
