#pragma once
// One benchmark configuration: calibrate the workload, time the engine's forward and backward
// passes over the samples (best of the repeats, wall and CPU time), and with Opts::bare the
// bare loop on the same network, input and dL/dy.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/workload.hpp"

namespace delayprop::bench {

// Seconds over all samples.
struct Timing {
  double fwd = 1e300, bwd = 1e300;          // wall, best repeat
  double cpu_fwd = 1e300, cpu_bwd = 1e300;  // CPU time of the process, best repeat
};

struct Result {
  uint32_t hidden = 0, batch = 0;
  int32_t max_delay = 0;
  int threads = 1;
  std::string simd;          // as asked: off | auto | scalar | avx2 | avx512
  std::string simd_kernels;  // what the CPU backend runs (empty for other backends)
  size_t n_params = 0;
  double target_rate = 0, calib_s = 0;
  std::vector<double> calib_w_mean;
  Timing engine;
  double fwd_sum = 0, bwd_sum = 0;  // wall seconds summed over the repeats
  // Over all samples, in the last repeat.
  uint64_t events = 0, input_spikes = 0, hidden_spikes = 0;
  std::vector<double> spikes_per_hidden_neuron;  // per hidden layer
  double engine_mib = 0, peak_rss_mib = 0;
  double loadavg_1min = -1;  // < 0: unknown
  std::string grad_hash;     // FNV-1a over the bits of the last batch's gradient
  // Opts::bare only.
  bool has_bare = false;
  Timing bare;
  uint64_t bare_hidden_spikes = 0;
  double bare_grad_rel_diff = 0;  // of the first batch's gradient, relative to the engine's
};

Result run_config(const Opts& o, const Shape& s, uint32_t hidden, int32_t max_delay, int threads, uint32_t batch,
                  const std::string& simd);

}  // namespace delayprop::bench
