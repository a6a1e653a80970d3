// Febus A1 (both layouts): /<device>/Source<N>/time (one posix time per block) and
// /<device>/Source<N>/Zone<M>/<data>, a 3-D [block, row, channel] array. One record per zone.
//
// Zone attributes: Spacing (dx m, dt ms), Origin (x0 m, time offset ms), Extent (first and last
// channel, first and last row of a block), GaugeLength; optional: BlockRate (blocks per 1000 s),
// BlockOverlap or Overlap (percent), Version (the newer layout writes it on the zone too, and
// its Extent rows no longer start at 0).
//
// Rows kept per block. Each block holds `rows` rows, of which `keep` are new and the others
// repeat the neighbouring blocks (the overlap). We keep the central `keep` rows of every block:
// floor((rows - keep) / 2) are dropped at the start and the rest at the end, so consecutive
// blocks join with no row repeated or lost. This is what Febus' own library and DASCore's
// reader (dascore/io/febus/a1utils.py, get_data_index) keep, so the samples agree.
//   keep = round(block_time / dt), block_time = 1000 / BlockRate where the file states it,
//   else the median step of the block times (several blocks), else (one block and no
//   BlockRate) keep = round(rows / (1 + overlap / 100)).
// DASCore instead takes the overlap formula whenever Extent's rows start at 0; both agree on
// files whose attributes are consistent.
//
// The block times are honoured: the record starts at time[0] + Origin[1] + skip * dt, and every
// block must start one block_time after the one before (within a quarter block); a file whose
// blocks leave a gap or overlap is refused, naming the blocks, since a record is evenly sampled.
//
// Processed products: a dataset named like "PSD [dB re 1 nStrain|sqrt(Hz)]" holds a power
// spectral density in dB, not strain rate: it is labelled processed, its units from the name.
#include <algorithm>
#include <cmath>

#include "io/das_read_plan.h"
#include "io/das_time.h"

namespace dasnet::detail {
namespace {

struct FebusZone {
  std::string source, zone, data;
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Every zone with one dataset, in file order (device, source, zone).
std::vector<FebusZone> find_zones(const h5::File& f) {
  std::vector<FebusZone> zones;
  for (const std::string& device : f.children("/")) {
    const std::string dev = "/" + device;
    if (!f.is_group(dev)) continue;
    for (const std::string& source : f.children(dev)) {
      const std::string src = dev + "/" + source;
      if (!starts_with(source, "Source") || !f.is_group(src) || !f.is_dataset(src + "/time")) continue;
      for (const std::string& zone : f.children(src)) {
        const std::string z = src + "/" + zone;
        if (!starts_with(zone, "Zone") || !f.is_group(z)) continue;
        for (const std::string& name : f.children(z))
          if (f.is_dataset(z + "/" + name)) {
            zones.push_back({src, z, z + "/" + name});
            break;
          }
      }
    }
  }
  return zones;
}

// Seconds between block starts, from BlockRate or the block times; 0 when neither says.
double block_time_s(const h5::Node& zone, const h5::Node& times) {
  if (auto rate = zone.attr_number_if("BlockRate"); rate && *rate > 0) return 1000.0 / *rate;
  const size_t blocks = times.element_count();
  if (blocks < 2) return 0;
  const auto t = times.numbers_in(0, blocks);
  std::vector<double> steps(blocks - 1);
  for (size_t k = 0; k + 1 < blocks; ++k) steps[k] = t[k + 1] - t[k];
  std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
  return require_positive(times, "median step between block times", steps[steps.size() / 2]);
}

// New rows per block (see the header comment).
size_t rows_kept(const h5::Node& zone, const h5::Node& times, size_t rows, double dt_s) {
  const double block_s = block_time_s(zone, times);
  double keep = 0;
  if (block_s > 0) {
    keep = std::round(block_s / dt_s);
  } else {
    const char* name = zone.has_attr("BlockOverlap") ? "BlockOverlap" : "Overlap";
    if (!zone.has_attr(name))
      zone.fail("one block and no 'BlockRate', 'BlockOverlap' or 'Overlap': cannot tell the new rows of a block");
    const double overlap = zone.attr_number(name);
    if (!(overlap >= 0 && overlap < 1000)) zone.fail(std::string("attribute '") + name + "': unusable percent");
    keep = std::round(rows / (1 + overlap / 100));
  }
  if (!(keep >= 1) || keep > static_cast<double>(rows))
    zone.fail("blocks of " + std::to_string(rows) + " rows cannot hold " + std::to_string(static_cast<long long>(keep)) +
              " new rows (check Spacing and BlockRate)");
  return static_cast<size_t>(keep);
}

// Refuses blocks that do not follow each other by one block of samples.
void check_block_times(const h5::Node& times, size_t blocks, double block_s) {
  if (blocks < 2) return;
  const auto t = times.numbers_in(0, blocks);
  for (size_t k = 0; k + 1 < blocks; ++k)
    if (!(std::fabs(t[k + 1] - t[k] - block_s) <= block_s / 4))
      times.fail("blocks " + std::to_string(k) + " and " + std::to_string(k + 1) + " start " +
                 std::to_string(t[k + 1] - t[k]) + " s apart, but a block holds " + std::to_string(block_s) +
                 " s: the recording has a gap or overlap here");
}

// "PSD [dB re 1 nStrain|sqrt(Hz)]" -> processed, units "dB re 1 nStrain/sqrt(Hz)".
void describe_product(ReadPlan& plan, const std::string& name) {
  const size_t open = name.find('['), close = name.rfind(']');
  std::string units = open != std::string::npos && close > open ? name.substr(open + 1, close - open - 1) : "";
  std::replace(units.begin(), units.end(), '|', '/');
  if (name == "StrainRate") {
    plan.info.units = "strain rate";
  } else if (name == "Strain") {
    plan.info.units = "strain";
  } else if (starts_with(name, "PSD") || units.rfind("dB", 0) == 0) {
    plan.info.processed = true;
    plan.info.product = "Febus " + name.substr(0, name.find(' ')) + " (" + (units.empty() ? "no units" : units) + ")";
    plan.info.units = units.empty() ? "unknown" : units;
  } else {
    plan.info.units = units.empty() ? unknown_units_for(plan.info.raw_type) : units;
  }
}

}  // namespace

bool is_febus(const h5::File& f) {
  const auto zones = find_zones(f);
  if (zones.empty()) return false;
  const h5::Node source = f.group(zones[0].source);
  return source.has_attr("SamplingRate") && source.has_attr("WholeExtent");
}

ReadPlan plan_febus(const h5::File& f) { return plan_febus_record(f, 0); }

ReadPlan plan_febus_record(const h5::File& f, size_t record) {
  const auto zones = find_zones(f);
  if (record >= zones.size())
    f.fail("/", "record " + std::to_string(record) + " requested; the file holds " + std::to_string(zones.size()) +
                    " Febus zones");
  const FebusZone& p = zones[record];
  const h5::Node source = f.group(p.source), zone = f.group(p.zone), data = f.dataset(p.data);
  if (!data.numeric()) data.fail("expected numeric samples, found " + data.element_type());
  const auto dims = data.shape();
  if (dims.size() != 3) data.fail("expected a 3-D [block, time, channel] array, found rank " + std::to_string(dims.size()));
  if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0) data.fail("empty data");

  const auto spacing = zone.attr_numbers("Spacing");
  if (spacing.size() < 2) zone.fail("attribute 'Spacing': expected (dx m, dt ms)");
  const double dx = require_positive(zone, "Spacing[0]", spacing[0]);
  const double dt_s = require_positive(zone, "Spacing[1]", spacing[1]) / 1000.0;
  const h5::Node times = f.dataset(p.source + "/time");
  if (!times.numeric() || times.element_count() < dims[0])
    times.fail("expected one number per block (" + std::to_string(dims[0]) + " blocks)");
  const size_t rows = static_cast<size_t>(dims[1]);
  const size_t keep = rows_kept(zone, times, rows, dt_s);
  check_block_times(times, static_cast<size_t>(dims[0]), keep * dt_s);

  ReadPlan plan;
  plan.rank = 3;
  plan.block_skip = (rows - keep) / 2;
  plan.block_keep = keep;
  plan.info.format_version = source.attr_text_if("Version").value_or("1");
  plan.info.data_path = p.data;
  plan.info.raw_type = data.element_type();
  plan.info.stored_order = "block x time x channel";
  plan.info.time_axis = 0;  // within a block, time comes before channel
  plan.info.num_channels = static_cast<size_t>(dims[2]);
  plan.info.num_samples = static_cast<size_t>(dims[0]) * keep;
  plan.info.sampling_rate_hz = 1.0 / dt_s;
  plan.info.channel_spacing_m = dx;
  plan.info.record_count = zones.size();
  if (zones.size() > 1) plan.info.record_name = p.zone.substr(1);

  const auto origin = zone.has_attr("Origin") ? zone.attr_numbers("Origin") : std::vector<double>{0, 0};
  const auto extent = zone.has_attr("Extent") ? zone.attr_numbers("Extent") : std::vector<double>{0};
  const double time_offset_s = origin.size() > 1 ? origin[1] / 1000.0 : 0;
  plan.info.start_time_ns = seconds_to_ns(times.number_at(0) + time_offset_s + plan.block_skip * dt_s);
  plan.info.first_locus = static_cast<int64_t>(std::llround(extent.empty() ? 0 : extent[0]));
  plan.info.distance_start_m = plan.info.first_locus * dx + (origin.empty() ? 0 : origin[0]);
  plan.info.gauge_length_m = zone.attr_number_if("GaugeLength").value_or(0);
  describe_product(plan, p.data.substr(p.data.rfind('/') + 1));
  return plan;
}

}  // namespace dasnet::detail
