#include "bench/run.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "bench/bare_loop.hpp"
#include "core/loss.hpp"
#include "kernels/factory.hpp"

namespace delayprop::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds of the whole process (all threads): unlike wall time, not inflated when other
// jobs on a shared machine take the core away.
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

// Keeps the best (smallest) time of each kind over the repeats.
void keep_best(Timing& best, double tf, double tb, double cf, double cb) {
  best.fwd = std::min(best.fwd, tf);
  best.bwd = std::min(best.bwd, tb);
  best.cpu_fwd = std::min(best.cpu_fwd, cf);
  best.cpu_bwd = std::min(best.cpu_bwd, cb);
}

std::string fnv_hash(const std::vector<double>& v) {
  uint64_t h = 1469598103934665603ULL;
  for (double x : v) {
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    h = (h ^ bits) * 1099511628211ULL;
  }
  std::ostringstream hs;
  hs << std::hex << std::setw(16) << std::setfill('0') << h;
  return hs.str();
}

}  // namespace

Result run_config(const Opts& o, const Shape& s, uint32_t hidden, int32_t max_delay, int threads, uint32_t batch,
                  const std::string& simd) {
  Result res;
  res.hidden = hidden;
  res.max_delay = max_delay;
  res.threads = threads;
  res.batch = batch;
  res.simd = simd;
  EngineOptions eo;
  eo.backend = o.backend;
  eo.precision = o.precision;
  eo.threads = threads;
  eo.simd = simd == "off" ? "scalar" : simd;
  if (o.backend == "cpu") res.simd_kernels = cpu_simd_kernels(eo.simd);
  std::vector<int32_t> labels, cal_labels;
  const SpikeBatch all = make_input(s, o.samples, o.seed, labels);
  const SpikeBatch cal = make_input(s, 2, o.seed + 1000, cal_labels);
  const auto tc0 = Clock::now();
  // The paper's regulariser target (14) for the SHD/Braille shapes; Yin-Yang hidden neurons
  // fire a few times per trial.
  res.target_rate = o.target_rate >= 0 ? o.target_rate : (s.first_spike ? 2.0 : 14.0);
  res.calib_w_mean = calibrate(s, hidden, max_delay, res.target_rate, eo, cal, o.seed);
  res.calib_s = seconds(tc0, Clock::now());
  const Network net = build_net(s, hidden, max_delay, res.calib_w_mean);
  res.n_params = net.n_params;
  const std::vector<double> params = init_params(net, o.seed);
  auto eng = make_engine(net, eo);
  LossSpec loss;
  loss.kind = s.first_spike ? LossKind::FirstSpike : LossKind::CrossEntropy;
  std::vector<double> grad(net.n_params);

  const uint32_t n_batches = (o.samples + batch - 1) / batch;
  std::vector<SpikeBatch> batches;
  std::vector<std::vector<int32_t>> blabels;
  for (uint32_t k = 0; k < n_batches; ++k) {
    const uint32_t b0 = k * batch, b1 = std::min(o.samples, b0 + batch);
    batches.push_back(slice(all, b0, b1));
    blabels.emplace_back(labels.begin() + b0, labels.begin() + b1);
  }
  ForwardOutputs f;
  BackwardInputs bin;
  // The backward of a training step: exact sums kept from batch to batch, then rounded.
  ExactVector exact;
  auto backward = [&] {
    eng->backward_exact(params, bin, exact);
    require(eng->round_exact(exact, grad) == exact.size(), "bench: a gradient left the exact-sum range");
  };
  // Warm-up: allocates workspaces and tapes.
  eng->forward(params, batches[0], f);
  compute_loss(loss, f, blabels[0], batches[0].n_samples, bin);
  backward();

  for (uint32_t r = 0; r < o.repeat; ++r) {
    double tf = 0, tb = 0, cf = 0, cb = 0;
    res.events = res.input_spikes = res.hidden_spikes = 0;
    res.spikes_per_hidden_neuron.assign(s.hidden_layers, 0.0);
    for (uint32_t k = 0; k < n_batches; ++k) {
      const double c0 = cpu_now();
      const auto t0 = Clock::now();
      eng->forward(params, batches[k], f);
      const auto t1 = Clock::now();
      const double c1 = cpu_now();
      compute_loss(loss, f, blabels[k], batches[k].n_samples, bin);
      const double c2 = cpu_now();
      const auto t2 = Clock::now();
      backward();
      const auto t3 = Clock::now();
      const double c3 = cpu_now();
      tf += seconds(t0, t1);
      tb += seconds(t2, t3);
      cf += c1 - c0;
      cb += c3 - c2;
      res.events += f.synaptic_events;
      res.input_spikes += f.input_spikes;
      res.hidden_spikes += f.hidden_spikes;
      for (int l = 0; l < s.hidden_layers; ++l)
        res.spikes_per_hidden_neuron[l] += spikes_per_neuron(f, uint32_t(l + 1)) * f.n_samples / o.samples;
    }
    keep_best(res.engine, tf, tb, cf, cb);
    res.fwd_sum += tf;
    res.bwd_sum += tb;
  }
  res.engine_mib = double(eng->memory_bytes()) / (1024.0 * 1024.0);
  // Bitwise fingerprint of the last batch's gradient: compare engine changes with it.
  res.grad_hash = fnv_hash(grad);
  res.peak_rss_mib = peak_rss_mib();
  {
    // Other jobs on the machine during the run (the 1-minute load average).
    std::ifstream la("/proc/loadavg");
    double load = -1;
    if (la >> load) res.loadavg_1min = load;
  }
  if (!o.bare) return res;

  // The engine's dL/dy of every batch, so both compute the same gradient.
  std::vector<std::vector<double>> dldy(n_batches);
  for (uint32_t k = 0; k < n_batches; ++k) {
    eng->forward(params, batches[k], f);
    compute_loss(loss, f, blabels[k], batches[k].n_samples, bin);
    dldy[k] = bin.output_grad;
  }
  BareLoop bare(net, params);
  std::vector<float> y(s.outputs);
  res.has_bare = true;
  for (uint32_t r = 0; r < o.repeat + 1; ++r) {  // the first pass is the warm-up
    double tf = 0, tb = 0, cf = 0, cb = 0;
    res.bare_hidden_spikes = 0;
    for (uint32_t k = 0; k < n_batches; ++k) {
      // Like the engine: the batch's forwards, then its backwards (the forward state stays
      // in cache from one sample to the next).
      const uint32_t nb = batches[k].n_samples;
      const double c0 = cpu_now();
      const auto t0 = Clock::now();
      for (uint32_t b = 0; b < nb; ++b) bare.forward(batches[k], b, y.data());
      const auto t1 = Clock::now();
      const double c1 = cpu_now();
      for (uint32_t b = 0; b < nb; ++b) bare.backward(batches[k], b, dldy[k].data() + size_t(b) * s.outputs);
      const auto t2 = Clock::now();
      const double c2 = cpu_now();
      tf += seconds(t0, t1);
      tb += seconds(t1, t2);
      cf += c1 - c0;
      cb += c2 - c1;
      for (uint32_t b = 0; b < nb; ++b) res.bare_hidden_spikes += bare.spikes(b);
    }
    if (r > 0) keep_best(res.bare, tf, tb, cf, cb);
  }
  // Same work as the engine? Its gradient of the first batch must agree to float32 rounding.
  bare.reset_grad();
  eng->forward(params, batches[0], f);
  compute_loss(loss, f, blabels[0], batches[0].n_samples, bin);
  backward();
  for (uint32_t b = 0; b < batches[0].n_samples; ++b) bare.forward(batches[0], b, y.data());
  for (uint32_t b = 0; b < batches[0].n_samples; ++b)
    bare.backward(batches[0], b, bin.output_grad.data() + size_t(b) * s.outputs);
  double dd = 0, nn = 0;
  for (size_t k = 0; k < grad.size(); ++k) {
    dd += (grad[k] - bare.grad()[k]) * (grad[k] - bare.grad()[k]);
    nn += grad[k] * grad[k];
  }
  res.bare_grad_rel_diff = nn > 0 ? std::sqrt(dd / nn) : std::sqrt(dd);
  return res;
}

}  // namespace delayprop::bench
