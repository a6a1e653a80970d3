// Synthetic DAS records that look like the study's data (a dark fiber beside a road, 2 m
// channels, 500 Hz): dispersive surface waves from passing vehicles, instrument noise,
// non-coherent wavefields and saturating events, with a ground-truth class per cell.
//
// Model (all amplitudes in int16 counts of strain rate):
// - Vehicles drive along a road parallel to the fiber at a lateral offset, in platoons of 1-5
//   (quiet gaps between platoons). Each radiates a few
//   narrow-band components (2-40 Hz) with phase velocity c(f) = c10 (f / 10 Hz)^-gamma clamped to
//   150-600 m/s (normal dispersion) and group velocity c / (1 + gamma); amplitude falls with
//   distance r as 1/sqrt(1 + r/10 m) times anelastic loss exp(-pi f r / (Q c)), Q 8-20. The load itself
//   adds a low-frequency quasi-static strain-rate pulse that moves with the vehicle.
// - Instrument noise is white in optical phase; differentiated to strain rate it rises with
//   frequency (|H| = 2 sin(pi f / fs)), which is why the study's rule calls a patch "noise" when
//   its 0-40 Hz band sits below its 40-82.5 Hz band.
// - Non-coherent wavefields: many short plane-wave bursts (4-100 Hz) from random directions with
//   short spatial coherence, inside a box of channels x time.
// - Saturation: a strong stationary source (e.g. heavy machinery) a few metres from the fiber;
//   samples beyond the int16 range are clipped, the coherent wavefield around them is not.
// Randomness comes from the seed only; blocks are produced in order with a fixed length, so a
// seed gives the same record whatever the caller's chunking.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "core/usage_error.h"

namespace dasnet {

struct SynthOptions {
  int channels = 500;
  double duration_s = 60;
  double rate_hz = 500;
  double spacing_m = 2;
  uint64_t seed = 1;
  double vehicles_per_minute = 2;
  double noise_level = 30;             // std of the instrument noise, counts
  double saturation_fraction = 0.01;   // expected fraction of the record's time with a saturating event
  double noncoherent_fraction = 0.1;   // expected fraction of the record's time with a non-coherent wavefield
  int64_t start_time_ns = 1546300800LL * 1000000000LL;  // 2019-01-01T00:00:00Z
  void validate() const;  // throws UsageError naming the option
  size_t total_samples() const;
};

// Ground-truth classes of the generator (not the rule's labels).
enum class TruthClass : uint8_t { noise = 0, waves = 1, noncoherent = 2, saturated = 3 };
constexpr int kNumTruthClasses = 4;
const char* truth_class_name(TruthClass c);
std::vector<std::string> truth_class_names();

// Truth is kept per cell of kTruthCellChannels x kTruthCellSamples.
constexpr int kTruthCellChannels = 10;
constexpr int kTruthCellSamples = 50;

struct WaveComponent {
  double frequency_hz, phase_velocity, group_velocity, attenuation_per_m, weight, phase;
  double modulation_hz, modulation_phase;  // slow amplitude wobble of the source
};

// A source moving along the road (speed 0 for stationary sources).
struct WaveSource {
  double start_position_m;  // along the fiber at time on_s
  double speed_mps;         // signed
  double offset_m;          // lateral distance from the fiber
  double on_s, off_s;       // emission interval
  double taper_s;           // on/off ramp
  double amplitude;         // counts at r = 0
  double quasi_static;      // amplitude of the moving-load pulse (counts), 0 for none
  bool saturating;          // for the truth table
  std::vector<WaveComponent> components;
};

struct PlaneBurst {
  double frequency_hz, slowness_s_per_m, phase, amplitude;
  double center_m, width_m, center_s, duration_s;
};

struct NoncoherentEvent {
  int first_channel, end_channel;  // [first, end)
  double on_s, off_s;
  std::vector<PlaneBurst> bursts;
};

struct SynthScene {
  std::vector<WaveSource> sources;
  std::vector<NoncoherentEvent> noncoherent;
};

// The random scene for the options (vehicles, saturating sources, non-coherent events).
SynthScene random_scene(const SynthOptions& options);
// One vehicle / one saturating source / one non-coherent event, for reference images and tests.
WaveSource make_vehicle(const SynthOptions& options, uint64_t seed, double pass_time_s, double position_m,
                        double offset_m, double amplitude);
WaveSource make_saturating_source(const SynthOptions& options, uint64_t seed, double on_s, double duration_s,
                                  double position_m, double peak_over_int16);
NoncoherentEvent make_noncoherent(const SynthOptions& options, uint64_t seed, int first_channel, int end_channel,
                                  double on_s, double off_s, double amplitude);

class Synthesizer {
 public:
  static constexpr int kBlockSamples = 5000;  // multiple of kTruthCellSamples
  Synthesizer(SynthOptions options, SynthScene scene);
  size_t total_samples() const { return total_; }
  size_t samples_done() const { return done_; }
  // Generates the next block (channels x n, row stride n, integral counts already clipped to
  // int16) and the truth cells it covers (n_channel_cells x ceil(n / kTruthCellSamples), row
  // stride likewise). Returns n; 0 after the end.
  size_t next_block(std::vector<float>& data, std::vector<uint8_t>& truth);
  const SynthScene& scene() const { return scene_; }
  const SynthOptions& options() const { return options_; }

 private:
  void add_source(const WaveSource& s, size_t t0, size_t n, float* coherent) const;
  void add_noncoherent(const NoncoherentEvent& e, size_t t0, size_t n, float* incoherent) const;

  SynthOptions options_;
  SynthScene scene_;
  size_t total_ = 0, done_ = 0;
  uint64_t block_index_ = 0;
  std::vector<float> last_phase_noise_;  // per channel, continuity of the differentiated noise
  std::vector<float> coupling_;          // per-channel ground coupling
};

}  // namespace dasnet
