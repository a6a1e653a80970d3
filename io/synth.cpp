#include "io/synth.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/rng.h"
#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

namespace {

constexpr double kTwoPi = 6.283185307179586;
constexpr double kPi = 3.141592653589793;
constexpr double kRoadOverhang_m = 300;  // the road runs this far past both ends of the fiber

// Random streams: one per purpose so adding a draw to one never shifts another.
enum Stream : uint64_t { kVehicles = 1, kSaturation = 2, kNoncoherent = 3, kNoise = 4, kCoupling = 5 };

double fiber_length(const SynthOptions& o) { return o.channels * o.spacing_m; }

// Smooth 0..1 ramp over [0, width].
inline double ramp(double x, double width) {
  if (x <= 0) return 0;
  if (x >= width) return 1;
  return 0.5 - 0.5 * std::cos(kPi * x / width);
}

std::vector<WaveComponent> random_components(Rng& rng, double f_lo, double f_hi, int count) {
  double c10 = rng.uniform(250, 450), gamma = rng.uniform(0.3f, 0.6f), q = rng.uniform(8, 20);
  std::vector<WaveComponent> out;
  double total_weight = 0;
  for (int j = 0; j < count; ++j) {
    WaveComponent w;
    w.frequency_hz = rng.uniform(float(f_lo), float(f_hi));
    w.phase_velocity = std::clamp(c10 * std::pow(w.frequency_hz / 10.0, -gamma), 150.0, 600.0);
    w.group_velocity = w.phase_velocity / (1 + gamma);
    w.attenuation_per_m = kPi * w.frequency_hz / (q * w.phase_velocity);
    w.weight = 0.3 + rng.uniform();
    w.phase = rng.uniform(0, float(kTwoPi));
    w.modulation_hz = rng.uniform(0.2f, 1.5f);
    w.modulation_phase = rng.uniform(0, float(kTwoPi));
    total_weight += w.weight;
    out.push_back(w);
  }
  for (auto& w : out) w.weight /= total_weight;
  return out;
}

// Expected-count events: floor plus a coin for the fraction, so small fractions still occur.
int event_count(Rng& rng, double expected) {
  if (expected <= 0) return 0;
  int n = int(std::floor(expected));
  if (rng.uniform() < expected - n) ++n;
  return n;
}

}  // namespace

void SynthOptions::validate() const {
  if (channels < 1) throw UsageError("--channels must be at least 1");
  if (!(duration_s > 0)) throw UsageError("--duration must be positive");
  if (!(rate_hz > 0)) throw UsageError("--rate must be positive");
  if (!(spacing_m > 0)) throw UsageError("--spacing must be positive");
  if (vehicles_per_minute < 0) throw UsageError("--vehicles must not be negative");
  if (noise_level < 0) throw UsageError("--noise must not be negative");
  if (saturation_fraction < 0 || saturation_fraction > 1) throw UsageError("--saturation must be in [0, 1]");
  if (noncoherent_fraction < 0 || noncoherent_fraction > 1) throw UsageError("--noncoherent must be in [0, 1]");
}

size_t SynthOptions::total_samples() const { return size_t(std::llround(duration_s * rate_hz)); }

const char* truth_class_name(TruthClass c) {
  switch (c) {
    case TruthClass::noise: return "noise";
    case TruthClass::waves: return "waves";
    case TruthClass::noncoherent: return "noncoherent";
    case TruthClass::saturated: return "saturated";
  }
  return "?";
}

std::vector<std::string> truth_class_names() {
  std::vector<std::string> names;
  for (int i = 0; i < kNumTruthClasses; ++i) names.push_back(truth_class_name(TruthClass(i)));
  return names;
}

WaveSource make_vehicle(const SynthOptions& o, uint64_t seed, double pass_time_s, double position_m, double offset_m,
                        double amplitude) {
  Rng rng(seed);
  WaveSource v;
  double speed = rng.uniform(8, 30);
  double direction = rng.uniform() < 0.5 ? -1 : 1;
  v.speed_mps = direction * speed;
  v.offset_m = offset_m;
  // Start at the road's end so the vehicle reaches position_m at pass_time_s.
  double start = direction > 0 ? -kRoadOverhang_m : fiber_length(o) + kRoadOverhang_m;
  v.start_position_m = start;
  v.on_s = pass_time_s - std::abs(position_m - start) / speed;
  v.off_s = v.on_s + (fiber_length(o) + 2 * kRoadOverhang_m) / speed;
  v.taper_s = 2;
  v.amplitude = amplitude;
  v.quasi_static = amplitude * rng.uniform(0.2f, 0.5f);
  v.saturating = false;
  v.components = random_components(rng, 2, 40, 5);
  return v;
}

WaveSource make_saturating_source(const SynthOptions& o, uint64_t seed, double on_s, double duration_s,
                                  double position_m, double peak_over_int16) {
  (void)o;
  Rng rng(seed);
  WaveSource s;
  s.start_position_m = position_m;
  s.speed_mps = 0;
  s.offset_m = rng.uniform(2, 8);
  s.on_s = on_s;
  s.off_s = on_s + duration_s;
  s.taper_s = 0.2;
  // Peak at the nearest channel is about amplitude / sqrt(1 + offset/10).
  s.amplitude = peak_over_int16 * 32767.0 * std::sqrt(1 + s.offset_m / 10);
  s.quasi_static = 0;
  s.saturating = true;
  s.components = random_components(rng, 3, 30, 5);
  return s;
}

NoncoherentEvent make_noncoherent(const SynthOptions& o, uint64_t seed, int first_channel, int end_channel,
                                  double on_s, double off_s, double amplitude) {
  Rng rng(seed);
  NoncoherentEvent e;
  e.first_channel = std::max(0, first_channel);
  e.end_channel = std::min(o.channels, end_channel);
  e.on_s = on_s;
  e.off_s = off_s;
  double duration = std::max(0.0, off_s - on_s);
  double x0 = e.first_channel * o.spacing_m, x1 = e.end_channel * o.spacing_m;
  // About 40 bursts per second overlap: the sum has no single dominant moveout.
  int count = std::max(4, int(40 * duration));
  double burst_rms = amplitude / std::sqrt(std::max(1.0, 40.0 * 0.8 * 0.5));  // ~overlapping bursts per point
  for (int i = 0; i < count; ++i) {
    PlaneBurst b;
    b.frequency_hz = rng.uniform(4, 100);
    double velocity = rng.uniform(150, 600);
    b.slowness_s_per_m = std::cos(rng.uniform(0, float(kPi))) / velocity;  // random direction
    b.phase = rng.uniform(0, float(kTwoPi));
    b.amplitude = burst_rms * std::sqrt(2.0) * rng.uniform(0.5f, 1.5f);
    b.center_m = rng.uniform(float(x0), float(x1));
    b.width_m = rng.uniform(10, 60);
    b.center_s = rng.uniform(float(on_s), float(off_s));
    b.duration_s = rng.uniform(0.2f, 1.0f);
    e.bursts.push_back(b);
  }
  return e;
}

SynthScene random_scene(const SynthOptions& o) {
  o.validate();
  SynthScene scene;
  const double length = fiber_length(o);
  // Vehicles: Poisson arrivals; start early enough that the road is busy at t = 0.
  {
    Rng rng(derive_seed(o.seed, kVehicles));
    // Traffic comes in platoons (traffic lights upstream): groups of 1-5 vehicles a few seconds
    // apart, groups arriving as a Poisson process, which leaves quiet gaps between them.
    const double mean_platoon = 3;
    double group_rate = o.vehicles_per_minute / 60.0 / mean_platoon;
    double lead = (length + 2 * kRoadOverhang_m) / 8.0;  // slowest crossing time
    if (group_rate > 0) {
      double t = -lead;
      uint64_t i = 0;
      for (;;) {
        t += -std::log(1.0 - double(rng.uniform())) / group_rate;
        if (t > o.duration_s) break;
        int platoon = 1 + int(rng.below(5));
        double entry = t;
        for (int k = 0; k < platoon; ++k, ++i) {
          entry += k == 0 ? 0 : rng.uniform(1, 4);
          double offset = rng.uniform(8, 40);
          double amplitude = o.noise_level * 6 * std::exp(0.6 * rng.normal()) + 30;
          WaveSource v = make_vehicle(o, derive_seed(o.seed, 1000 + i), 0, 0, offset, amplitude);
          // Re-time so that the vehicle enters the road at `entry`.
          double shift = entry - v.on_s;
          v.on_s += shift;
          v.off_s += shift;
          scene.sources.push_back(v);
        }
      }
    }
  }
  {
    Rng rng(derive_seed(o.seed, kSaturation));
    int n = event_count(rng, o.saturation_fraction * o.duration_s / 2.0);
    for (int i = 0; i < n; ++i) {
      double duration = rng.uniform(1, 3);
      double on = rng.uniform(0, float(std::max(0.0, o.duration_s - duration)));
      double position = rng.uniform(0.05f * float(length), 0.95f * float(length));
      scene.sources.push_back(
          make_saturating_source(o, derive_seed(o.seed, 2000 + i), on, duration, position, rng.uniform(3, 10)));
    }
  }
  {
    Rng rng(derive_seed(o.seed, kNoncoherent));
    int n = event_count(rng, o.noncoherent_fraction * o.duration_s / 10.0);
    for (int i = 0; i < n; ++i) {
      double duration = rng.uniform(5, 15);
      double on = rng.uniform(0, float(std::max(0.0, o.duration_s - duration)));
      int width = std::min(o.channels, int(rng.uniform(100, 300)));
      int first = int(rng.below(uint64_t(std::max(1, o.channels - width + 1))));
      double amplitude = o.noise_level * rng.uniform(3, 8) + 10;
      scene.noncoherent.push_back(
          make_noncoherent(o, derive_seed(o.seed, 3000 + i), first, first + width, on, on + duration, amplitude));
    }
  }
  return scene;
}

Synthesizer::Synthesizer(SynthOptions options, SynthScene scene) : options_(options), scene_(std::move(scene)) {
  options_.validate();
  for (const auto& src : scene_.sources)
    if (src.components.size() > 8) throw std::invalid_argument("Synthesizer: at most 8 wave components per source");
  total_ = options_.total_samples();
  last_phase_noise_.assign(size_t(options_.channels), 0.0f);
  // Ground coupling varies smoothly along the fiber (0.6-1.4).
  Rng rng(derive_seed(options_.seed, kCoupling));
  double k1 = rng.uniform(0.005f, 0.02f), k2 = rng.uniform(0.02f, 0.06f);
  double p1 = rng.uniform(0, float(kTwoPi)), p2 = rng.uniform(0, float(kTwoPi));
  coupling_.resize(size_t(options_.channels));
  for (int c = 0; c < options_.channels; ++c)
    coupling_[size_t(c)] = float(1 + 0.25 * std::sin(kTwoPi * k1 * c + p1) + 0.15 * std::sin(kTwoPi * k2 * c + p2));
  // Noise state before the first sample, so the first difference is as noisy as the rest.
  Rng noise(derive_seed(options_.seed, kNoise));
  for (float& v : last_phase_noise_) v = noise.normal();
}

// The wavefield is evaluated exactly at the ends of short segments and interpolated inside them:
// amplitudes linearly, phases linearly through a complex rotation (no cos per sample). Over
// kSegment samples (20 ms) a vehicle moves under 1 m, so r(t) is close to linear there.
constexpr size_t kSegment = 10;

void Synthesizer::add_source(const WaveSource& s, size_t t0, size_t n, float* coherent) const {
  const double fs = options_.rate_hz, dx = options_.spacing_m;
  const double block_on = double(t0) / fs, block_off = double(t0 + n) / fs;
  double min_attenuation = 1e9, slowest_group = 1e9;
  for (const auto& w : s.components) {
    min_attenuation = std::min(min_attenuation, w.attenuation_per_m);
    slowest_group = std::min(slowest_group, w.group_velocity);
  }
  // Beyond this distance the source is below 1% of the instrument noise.
  const double floor = std::max(1.0, 0.01 * options_.noise_level);
  double max_reach = std::max(100.0, std::log(std::max(1.0, s.amplitude / floor)) / std::max(min_attenuation, 1e-4));
  max_reach = std::min(max_reach, 3000.0);
  if (block_off < s.on_s || block_on > s.off_s + max_reach / slowest_group) return;
  auto position = [&](double t) {
    const double tc = std::clamp(t, s.on_s, s.off_s);
    return s.start_position_m + s.speed_mps * (tc - s.on_s);
  };
  const double p_a = position(block_on - max_reach / slowest_group), p_b = position(block_off);
  const double lo = std::min(p_a, p_b) - max_reach, hi = std::max(p_a, p_b) + max_reach;
  const int c_lo = std::max(0, int(std::floor(lo / dx)));
  const int c_hi = std::min(options_.channels, int(std::ceil(hi / dx)) + 1);
  const double ramp_width = std::max(s.taper_s, 1e-3);
  const double qs_width = std::max(s.offset_m, 10.0);
  const size_t J = s.components.size();

  // Exact field at time t for channel position x: per-component amplitude and phase, plus the
  // quasi-static term.
  struct Point {
    double amplitude[8], phase[8], quasi_static;
    bool silent;
  };
  auto evaluate = [&](double x, double t, Point& p) {
    const double u = x - position(t);
    const double r = std::sqrt(u * u + s.offset_m * s.offset_m);
    p.silent = r > max_reach;
    const double geometric = s.amplitude / std::sqrt(1 + r / 10.0);
    for (size_t j = 0; j < J; ++j) {
      const WaveComponent& w = s.components[j];
      const double emitted = t - r / w.group_velocity;  // when this energy left the source
      const double on = ramp(emitted - s.on_s, ramp_width) * ramp(s.off_s - emitted, ramp_width);
      const double wobble = 1 + 0.5 * std::sin(kTwoPi * w.modulation_hz * emitted + w.modulation_phase);
      p.amplitude[j] = on > 0 && !p.silent ? geometric * w.weight * on * wobble * std::exp(-w.attenuation_per_m * r) : 0;
      p.phase[j] = kTwoPi * w.frequency_hz * (t - r / w.phase_velocity) + w.phase;
    }
    p.quasi_static = 0;
    if (s.quasi_static != 0 && t >= s.on_s && t <= s.off_s) {
      // Strain rate of a Ricker-shaped strain bump moving with the vehicle: d/dt = -v d/du.
      const double a = u / qs_width;
      const double d_strain_du = (-2 * a - a * (1 - a * a)) * std::exp(-0.5 * a * a) / qs_width;
      p.quasi_static = s.quasi_static * (-s.speed_mps) * d_strain_du * (qs_width / 20.0);
    }
  };

  Point start, end;
  for (int c = c_lo; c < c_hi; ++c) {
    const double x = c * dx;
    const float gain = coupling_[size_t(c)];
    float* row = coherent + size_t(c) * n;
    evaluate(x, block_on, start);
    for (size_t i0 = 0; i0 < n; i0 += kSegment) {
      const size_t len = std::min(kSegment, n - i0);
      evaluate(x, double(t0 + i0 + len) / fs, end);
      if (!(start.silent && end.silent)) {
        const double inv = 1.0 / double(len);
        for (size_t j = 0; j < J; ++j) {
          const double a0 = start.amplitude[j], da = (end.amplitude[j] - a0) * inv;
          if (a0 == 0 && da == 0) continue;
          const double step = (end.phase[j] - start.phase[j]) * inv;
          const double reduced = start.phase[j] - kTwoPi * std::floor(start.phase[j] / kTwoPi);
          double zr = std::cos(reduced), zi = std::sin(reduced);
          const double wr = std::cos(step), wi = std::sin(step);
          for (size_t k = 0; k < len; ++k) {
            row[i0 + k] += gain * float((a0 + da * double(k)) * zr);
            const double nr = zr * wr - zi * wi;
            zi = zr * wi + zi * wr;
            zr = nr;
          }
        }
      }
      if (start.quasi_static != 0 || end.quasi_static != 0) {
        const double q0 = start.quasi_static, dq = (end.quasi_static - q0) / double(len);
        for (size_t k = 0; k < len; ++k) row[i0 + k] += gain * float(q0 + dq * double(k));
      }
      start = end;
    }
  }
}

void Synthesizer::add_noncoherent(const NoncoherentEvent& e, size_t t0, size_t n, float* incoherent) const {
  const double fs = options_.rate_hz, dx = options_.spacing_m;
  const double block_on = double(t0) / fs, block_off = double(t0 + n) / fs;
  if (block_off < e.on_s - 2 || block_on > e.off_s + 2) return;
  const double box_lo = e.first_channel * dx, box_hi = e.end_channel * dx;
  std::vector<float> envelope;
  for (const auto& b : e.bursts) {
    const double half_t = 2.5 * b.duration_s, half_x = 2.5 * b.width_m;
    const size_t i_lo = size_t(std::clamp((b.center_s - half_t) * fs - double(t0), 0.0, double(n)));
    const size_t i_hi = size_t(std::clamp((b.center_s + half_t) * fs - double(t0), 0.0, double(n)));
    if (i_lo >= i_hi) continue;
    // The time envelope is the same on every channel: compute it once per burst.
    envelope.resize(i_hi - i_lo);
    for (size_t i = i_lo; i < i_hi; ++i) {
      const double t = double(t0 + i) / fs;
      const double at = (t - b.center_s) / b.duration_s;
      envelope[i - i_lo] = float(std::exp(-0.5 * at * at) * ramp(t - e.on_s, 0.5) * ramp(e.off_s - t, 0.5));
    }
    const int c_lo = std::max(e.first_channel, int(std::floor((b.center_m - half_x) / dx)));
    const int c_hi = std::min(e.end_channel, int(std::ceil((b.center_m + half_x) / dx)));
    const double step = kTwoPi * b.frequency_hz / fs;
    const double wr = std::cos(step), wi = std::sin(step);
    for (int c = c_lo; c < c_hi; ++c) {
      const double x = c * dx;
      const double ax = (x - b.center_m) / b.width_m;
      // Soft box edges so the event has no artificial straight borders.
      const double edge = ramp(x - box_lo, 20) * ramp(box_hi - x, 20);
      const double space = b.amplitude * coupling_[size_t(c)] * std::exp(-0.5 * ax * ax) * edge;
      if (space == 0) continue;
      float* row = incoherent + size_t(c) * n;
      // A plane wave's phase is linear in time at a fixed channel: rotate instead of cos.
      const double phase = kTwoPi * b.frequency_hz * (double(t0 + i_lo) / fs - b.slowness_s_per_m * x) + b.phase;
      const double reduced = phase - kTwoPi * std::floor(phase / kTwoPi);
      double zr = std::cos(reduced), zi = std::sin(reduced);
      for (size_t i = i_lo; i < i_hi; ++i) {
        row[i] += float(space * envelope[i - i_lo] * zr);
        const double nr = zr * wr - zi * wi;
        zi = zr * wi + zi * wr;
        zr = nr;
      }
    }
  }
}

size_t Synthesizer::next_block(std::vector<float>& data, std::vector<uint8_t>& truth) {
  if (done_ >= total_) return 0;
  const size_t n = std::min(size_t(kBlockSamples), total_ - done_);
  const size_t channels = size_t(options_.channels);
  const size_t t0 = done_;
  std::vector<float> coherent(channels * n, 0.0f), incoherent(channels * n, 0.0f);
  for (const auto& s : scene_.sources) add_source(s, t0, n, coherent.data());
  for (const auto& e : scene_.noncoherent) add_noncoherent(e, t0, n, incoherent.data());

  // Instrument noise: white phase noise, differentiated (see header); one stream per block.
  Rng noise(derive_seed(derive_seed(options_.seed, kNoise), block_index_ + 1));
  data.assign(channels * n, 0.0f);
  const float sigma = float(options_.noise_level / std::sqrt(2.0));
  std::vector<uint8_t> clipped(channels * n, 0);
  for (size_t c = 0; c < channels; ++c) {
    float last = last_phase_noise_[c];
    for (size_t i = 0; i < n; ++i) {
      float phase = noise.normal();
      float value = sigma * (phase - last) + coherent[c * n + i] + incoherent[c * n + i];
      last = phase;
      value = std::nearbyint(value);
      if (value > 32767.0f || value < -32768.0f) {
        clipped[c * n + i] = 1;
        value = std::clamp(value, -32768.0f, 32767.0f);
      }
      data[c * n + i] = value;
    }
    last_phase_noise_[c] = last;
  }

  // Truth cells: which component dominates the cell's energy.
  const size_t cell_rows = (channels + kTruthCellChannels - 1) / kTruthCellChannels;
  const size_t cell_cols = (n + kTruthCellSamples - 1) / kTruthCellSamples;
  truth.assign(cell_rows * cell_cols, uint8_t(TruthClass::noise));
  const double noise_energy = options_.noise_level * options_.noise_level;
  for (size_t cr = 0; cr < cell_rows; ++cr)
    for (size_t cc = 0; cc < cell_cols; ++cc) {
      double coh = 0, inc = 0;
      size_t count = 0, clip = 0;
      for (size_t c = cr * kTruthCellChannels; c < std::min(channels, (cr + 1) * kTruthCellChannels); ++c)
        for (size_t i = cc * kTruthCellSamples; i < std::min(n, (cc + 1) * kTruthCellSamples); ++i) {
          coh += double(coherent[c * n + i]) * coherent[c * n + i];
          inc += double(incoherent[c * n + i]) * incoherent[c * n + i];
          clip += clipped[c * n + i];
          ++count;
        }
      coh /= double(count);
      inc /= double(count);
      TruthClass cls = TruthClass::noise;
      // A cell counts as signal when its power exceeds the noise power (SNR > 0 dB).
      if (clip > 0) cls = TruthClass::saturated;
      else if (coh > noise_energy && coh >= inc) cls = TruthClass::waves;
      else if (inc > noise_energy) cls = TruthClass::noncoherent;
      else if (coh > noise_energy) cls = TruthClass::waves;
      truth[cr * cell_cols + cc] = uint8_t(cls);
    }
  done_ += n;
  ++block_index_;
  return n;
}

}  // namespace dasnet
