// miniSEED (SEED 2.4 data records), read through libmseed 2 (IRIS/EarthScope, Debian
// libmseed-dev): the seismometer records DAS studies compare against. Every channel stream
// (network.station.location.channel) is one channel. Streams of one sample rate that start
// together (within half a sample) and hold as many samples form one record of several
// channels; otherwise each stream is its own record (record k = stream k in libmseed's sort
// order), so nothing is dropped. A gap or overlap inside a stream cannot be one record of
// evenly spaced samples: it is refused naming the file, the stream and the time.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/binary_format.h"
#include "io/das_read_plan.h"
#include "io/das_time.h"

#ifdef DASNET_HAVE_MSEED
#include <libmseed.h>
#endif

namespace dasnet::detail {

// A SEED fixed header: 6 sequence digits (or spaces), a quality indicator, a space, and a
// plausible hour / minute / second in the record's start time.
bool is_mseed(const std::string& head, uint64_t file_size) {
  if (head.size() < 48 || file_size < 128) return false;
  for (int k = 0; k < 6; ++k)
    if (!std::isdigit(static_cast<unsigned char>(head[k])) && head[k] != ' ') return false;
  const char quality = head[6];
  if (quality != 'D' && quality != 'R' && quality != 'Q' && quality != 'M') return false;
  if (head[7] != ' ' && head[7] != '\0') return false;
  const auto hour = static_cast<unsigned char>(head[24]), minute = static_cast<unsigned char>(head[25]),
             second = static_cast<unsigned char>(head[26]);
  return hour <= 23 && minute <= 59 && second <= 60;
}

#ifdef DASNET_HAVE_MSEED
namespace {

// libmseed reports problems through its log; they are kept for the error message.
std::mutex log_mutex;
std::string last_log;
void keep_log(char* message) {
  last_log = message;
  while (!last_log.empty() && (last_log.back() == '\n' || last_log.back() == ' ')) last_log.pop_back();
}

struct Stream {
  std::string id;
  int64_t start_ns = 0;
  double rate_hz = 0;
  char type = 'i';
  std::vector<float> samples;
};

class MseedRecord final : public BinaryRecord {
 public:
  MseedRecord(const std::string& path, std::vector<Stream> streams, size_t first, size_t count)
      : path_(path), streams_(std::move(streams)), first_(first), count_(count) {}
  void read_samples(DasRecord& rec) const override {
    for (size_t c = 0; c < rec.num_channels; ++c) {
      const std::vector<float>& s = streams_[first_ + rec.first_channel + c].samples;
      std::copy_n(s.begin() + static_cast<std::ptrdiff_t>(rec.first_sample), rec.num_samples,
                  rec.data.begin() + static_cast<std::ptrdiff_t>(c * rec.num_samples));
    }
  }
  void describe(size_t record, size_t records);

 private:
  std::string path_;
  std::vector<Stream> streams_;
  size_t first_, count_;  // the record's streams
};

const char* type_name(char type) { return type == 'f' ? "float32" : type == 'd' ? "float64" : "int32"; }

void MseedRecord::describe(size_t record, size_t records) {
  const Stream& s = streams_[first_];
  info.format_version = "2.4";
  info.record_index = record;
  info.record_count = records;
  info.num_channels = count_;
  info.num_samples = s.samples.size();
  info.start_time_ns = s.start_ns;
  info.sampling_rate_hz = s.rate_hz;
  info.raw_type = type_name(s.type);
  info.stored_order = "channel x time (one stream per channel)";
  info.time_axis = 1;
  info.distance_units = "";  // channel numbers
  info.channel_spacing_m = 1;
  info.units = unknown_units_for(info.raw_type);
  std::string ids;
  for (size_t k = first_; k < first_ + count_; ++k) ids += (ids.empty() ? "" : ", ") + streams_[k].id;
  info.data_path = ids;
  if (records > 1) info.record_name = s.id;
}

// libmseed's microsecond time as ns; times past what int64 ns hold (year 2262) are refused.
int64_t time_ns(const std::string& path, const std::string& id, hptime_t microseconds) {
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;
  if (microseconds > kLimit || microseconds < -kLimit)
    throw std::runtime_error(path + ": stream " + id + ": record start time out of range (corrupted file)");
  return static_cast<int64_t>(microseconds) * 1000;
}

std::string stream_id(const MSTrace& t) {
  return std::string(t.network) + "." + t.station + "." + t.location + "." + t.channel;
}

// Every data record of the file into `group`; throws unless the records cover the whole file
// (libmseed stops quietly at a truncated last record).
void read_records(const std::string& path, MSTraceGroup* group) {
  MSFileParam* file = nullptr;
  MSRecord* record = nullptr;
  off_t position = 0;
  uint64_t covered = 0;
  int status = MS_NOERROR;
  while ((status = ms_readmsr_r(&file, &record, path.c_str(), -1, &position, nullptr, 1, 1, 0)) == MS_NOERROR) {
    covered = static_cast<uint64_t>(position) + static_cast<uint64_t>(record->reclen);
    mst_addmsrtogroup(group, record, 0, -1.0, -1.0);
  }
  ms_readmsr_r(&file, &record, nullptr, 0, nullptr, nullptr, 0, 0, 0);  // frees the reader's state
  if (status != MS_ENDOFFILE)
    throw std::runtime_error(path + ": miniSEED record at byte " + std::to_string(covered) + ": " + ms_errorstr(status) +
                             (last_log.empty() ? "" : " (" + last_log + ")") + " (truncated or corrupted file)");
  const uint64_t size = std::filesystem::file_size(path);
  if (covered != size)
    throw std::runtime_error(path + ": miniSEED records: they end at byte " + std::to_string(covered) + " of " +
                             std::to_string(size) + (last_log.empty() ? "" : " (" + last_log + ")") +
                             " (truncated or corrupted file)");
}

// The file's streams, decoded, one per network.station.location.channel; throws on a gap.
std::vector<Stream> read_streams(const std::string& path) {
  std::lock_guard<std::mutex> lock(log_mutex);  // libmseed's log is global
  ms_loginit(keep_log, nullptr, keep_log, nullptr);
  last_log.clear();
  MSTraceGroup* group = mst_initgroup(nullptr);
  struct Free {
    MSTraceGroup*& g;
    ~Free() { mst_freegroup(&g); }
  } free_group{group};
  read_records(path, group);
  if (group->numtraces == 0) throw std::runtime_error(path + ": miniSEED records: no data records");
  mst_groupsort(group, 0);
  std::vector<Stream> streams;
  for (MSTrace* t = group->traces; t != nullptr; t = t->next) {
    const std::string id = stream_id(*t);
    if (!(t->samprate > 0) || !std::isfinite(t->samprate) || t->numsamples <= 0)
      throw std::runtime_error(path + ": stream " + id + ": sample rate " + std::to_string(t->samprate) + " or " +
                               std::to_string(t->numsamples) + " samples (a record needs a positive rate and samples)");
    if (!streams.empty() && streams.back().id == id) {
      const double end_ns = double(streams.back().start_ns) +
                            (streams.back().samples.size() - 1) * 1e9 / streams.back().rate_hz;
      const int64_t shown_end_ns = std::fabs(end_ns) < 9e18 ? static_cast<int64_t>(end_ns) : 0;
      throw std::runtime_error(path + ": stream " + id + ": a gap, overlap or change of rate after " + format_iso8601_ns(shown_end_ns) +
                               " (next samples at " + format_iso8601_ns(time_ns(path, id, t->starttime)) +
                               "); a record needs evenly spaced samples");
    }
    if (t->sampletype != 'i' && t->sampletype != 'f' && t->sampletype != 'd')
      throw std::runtime_error(path + ": stream " + id + ": sample type '" + std::string(1, t->sampletype) +
                               "' is not numeric (ASCII log records are not samples)");
    Stream s{id, time_ns(path, id, t->starttime), t->samprate, t->sampletype, std::vector<float>(size_t(t->numsamples))};
    for (int64_t k = 0; k < t->numsamples; ++k)
      s.samples[size_t(k)] = t->sampletype == 'i'   ? static_cast<float>(static_cast<const int32_t*>(t->datasamples)[k])
                             : t->sampletype == 'f' ? static_cast<const float*>(t->datasamples)[k]
                                                    : static_cast<float>(static_cast<const double*>(t->datasamples)[k]);
    streams.push_back(std::move(s));
  }
  return streams;
}

// Streams that share one time axis (rate, start within half a sample, length, sample type).
bool one_time_axis(const std::vector<Stream>& streams) {
  const Stream& a = streams.front();
  return std::all_of(streams.begin(), streams.end(), [&](const Stream& b) {
    return b.rate_hz == a.rate_hz && b.samples.size() == a.samples.size() && b.type == a.type &&
           std::fabs(double(b.start_ns) - double(a.start_ns)) < 0.5e9 / a.rate_hz;
  });
}

}  // namespace

std::unique_ptr<BinaryRecord> open_mseed(const std::string& path, size_t record) {
  std::vector<Stream> streams = read_streams(path);
  const bool together = one_time_axis(streams);
  const size_t records = together ? 1 : streams.size();
  if (record >= records)
    throw std::runtime_error(path + ": record " + std::to_string(record) + " requested; the file holds " +
                             std::to_string(records) + (records == 1 ? " record" : " records (one per stream)"));
  const size_t count = together ? streams.size() : 1;
  auto opened = std::make_unique<MseedRecord>(path, std::move(streams), together ? 0 : record, count);
  opened->describe(record, records);
  return opened;
}
#else
std::unique_ptr<BinaryRecord> open_mseed(const std::string& path, size_t) {
  throw std::runtime_error(path + ": a miniSEED file, but this dasnet was built without libmseed (install "
                                  "libmseed-dev and rebuild to read it)");
}
#endif

}  // namespace dasnet::detail
