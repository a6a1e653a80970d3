// Synthetic files of the non-HDF5 DAS formats (io/binary_format.h), with the known values of
// tests/das_fixtures.h: sample (channel c, time t) is fixtures::value(c, t), plus 0.5 where the
// samples are floating point (so that a float read as an integer shows).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/das_fixtures.h"

namespace dasnet::fixtures {

// Silixa iDAS TDMS as NI's "TDMS file format internal structure" lays it out: the root object
// holds Silixa's properties (SamplingFrequency[Hz], GPSTimeStamp, SpatialResolution[m],
// StartPosition[m], GaugeLength, Fibre Length Multiplier), group 'Measurement' and one channel
// object per DAS channel. The samples are spread over `segments` segments of
// `chunks_per_segment` chunks each (spec.samples must divide evenly): the first segment states
// every object, the second repeats the channels with "same raw data index as before", the rest
// carry raw data only (no metadata), as LabVIEW writes appended segments.
struct TdmsLayout {
  uint32_t version = 4713;  // 4712 or 4713
  bool interleaved = true;  // rows of all channels (iDAS) or one run per channel per chunk
  bool float32 = false;     // float32 samples instead of int16
  size_t segments = 3;
  size_t chunks_per_segment = 2;
  double length_multiplier = 1.0;  // Fibre Length Multiplier
  double start_position_m = -12.5;
};
void write_tdms(const std::string& path, const Spec& spec, const TdmsLayout& layout = {});

// SEG-Y through segyio, one trace per channel as DASCore writes DAS patches: `format` is the
// data sample format code (1 IBM float, 2 int32, 3 int16, 5 IEEE float), big-endian, revision
// 1.0; the start is spec.start_ns cut to whole seconds (all SEG-Y's trace headers hold).
// Needs DASNET_HAVE_SEGYIO.
struct SegyLayout {
  int format = 5;
  int32_t trace_interval_us = -1;  // trace headers' interval; -1: the binary header's
};
void write_segy(const std::string& path, const Spec& spec, const SegyLayout& layout = {});
int64_t segy_start_ns(const Spec& spec);

// miniSEED 2.4 through libmseed: one stream XX.DAS..HHZ<k>... per channel, 512-byte records.
// Needs DASNET_HAVE_MSEED.
struct MseedLayout {
  bool float32 = false;          // float32 samples, else Steim-2 compressed int32
  size_t gap_after = 0;          // > 0: stream 0 has a 1 s gap after this many samples
  int64_t stagger_ns = 0;        // channel k starts k * stagger_ns later (then one record each)
};
void write_mseed(const std::string& path, const Spec& spec, const MseedLayout& layout = {});
std::string mseed_stream(size_t channel);
// The start write_mseed stores: SEED's record times count 100 us.
int64_t mseed_start_ns(const Spec& spec);

// Sentek .das (io/format_sentek.cpp's layout): distances from 3 m, channel 1 `uneven_m` further
// than the even step; sample times from `first_time_s` by 1 / rate. Name the file
// <anything>_YYYYMMDDhhmmssmmm.das for the start time.
struct SentekLayout {
  double first_time_s = 1000.25;
  double uneven_m = 0;
  float strain_rate_flag = 1;
};
void write_sentek(const std::string& path, const Spec& spec, const SentekLayout& layout = {});

// Sintela ONYX binary version 3 (io/format_sintela.cpp): packets of `packet_samples` rows
// (spec.samples must divide evenly); `gap_packet` > 0 starts that packet 1 s late.
struct SintelaLayout {
  size_t packet_samples = 10;
  size_t gap_packet = 0;
  uint32_t start_channel = 4;
  uint32_t channel_step = 2;
  uint8_t data_type = 4;  // strain rate, microstrain/s
};
void write_sintela(const std::string& path, const Spec& spec, const SintelaLayout& layout = {});

// The value write_tdms (and the other binary writers) store at (channel, time).
float binary_value(size_t channel, size_t time, bool floating);

}  // namespace dasnet::fixtures
