// delayprop-bench: speed and memory of the engine on synthetic workloads shaped like the
// paper's tasks (no data files). Per configuration it prints one JSON line (also appended
// to --json FILE) and, at the end, a Markdown table. --bare also runs a minimal single-core
// loop that does only the unavoidable work of MODEL.md §2-§3 on the same network and input
// (700 -> H recurrent -> K only), the per-core bound the engine is measured against.
//
// Workloads (assumptions, see docs/BENCHMARKS.md):
//   shd-ff   700 -> H -> H -> 20 LI sum-exp, 1 ms steps, 1000 steps
//   shd-rec  700 -> H recurrent -> 20 LI sum-exp, 1 ms steps, 1000 steps
//   braille  24 -> H -> H -> 27 LI sum-exp, 1 ms steps, 1900 steps (76 frames at 40 Hz)
//   yinyang  4 -> H -> 3 LIF first-spike (single spike), 0.005 ms steps, 6000 steps (30 ms)
// Input spikes are drawn uniformly over channels and steps (distinct (channel, step) cells,
// as binning does); every connection has max delay --max-delay steps and delays drawn
// U(0, max); hidden activity is calibrated to --target-rate spikes per neuron and sample by
// bisecting the mean of each hidden layer's feedforward input weights.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cli.hpp"
#include "core/engine.hpp"
#include "core/error.hpp"
#include "core/loss.hpp"
#include "core/model_math.hpp"
#include "core/network.hpp"
#include "core/rng.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* kUsage =
    "usage: delayprop-bench [--workload shd-ff|shd-rec|braille|yinyang] [--hidden H[,H..]]\n"
    "                       [--max-delay STEPS[,..]] [--threads T[,..]] [--batch B[,..]] [--samples N]\n"
    "                       [--repeat R] [--backend cpu|cuda] [--precision float32|float64]\n"
    "                       [--input-spikes N] [--channels C] [--outputs K] [--dt MS] [--steps N]\n"
    "                       [--target-rate SPIKES_PER_NEURON]\n"
    "                       [--seed S] [--simd off|auto|avx2|avx512[,..]] [--bare] [--no-table]\n"
    "                       [--json FILE]\n"
    "Lists (comma separated) run every combination in this process; peak RSS is then the\n"
    "process's peak so far: run one configuration per process for memory figures.\n"
    "--simd picks the CPU backend's synapse kernels (off = scalar; default auto, the best of\n"
    "this CPU); --simd off,auto measures both in one run. The bare loop is always scalar.\n";

struct Opts {
  std::string workload = "shd-rec";
  std::string backend = "cpu";
  Precision precision = Precision::Float32;
  uint32_t samples = 32, repeat = 3;
  int64_t input_spikes = -1, channels = -1, steps = -1, outputs = -1;
  double dt = -1, target_rate = -1;  // < 0: the workload's default
  uint64_t seed = 1;
  bool bare = false;
};

struct Shape {
  uint32_t channels, outputs, steps;
  double dt;
  uint64_t input_spikes;
  bool recurrent, first_spike;
  int hidden_layers;
};

Shape shape_of(const Opts& o) {
  Shape s{};
  if (o.workload == "shd-ff" || o.workload == "shd-rec") {
    s = {700, 20, 1000, 1.0, 10000, o.workload == "shd-rec", false, o.workload == "shd-rec" ? 1 : 2};
  } else if (o.workload == "braille") {
    s = {24, 27, 1900, 1.0, 300, false, false, 2};  // ~311 events at threshold 1 (docs/BENCHMARKS.md)
  } else if (o.workload == "yinyang") {
    s = {4, 3, 6000, 0.005, 4, false, true, 1};
  } else {
    throw UsageError("unknown --workload '" + o.workload + "' (shd-ff, shd-rec, braille, yinyang)");
  }
  if (o.channels > 0) s.channels = uint32_t(o.channels);
  if (o.outputs > 0) s.outputs = uint32_t(o.outputs);
  if (o.steps > 0) s.steps = uint32_t(o.steps);
  if (o.dt > 0) s.dt = o.dt;
  if (o.input_spikes >= 0) s.input_spikes = uint64_t(o.input_spikes);
  return s;
}

InitSpec normal(double m, double sd) { return {InitSpec::Dist::Normal, m, sd}; }

// The network of a workload; feedforward input weights of hidden layer l get mean w_mean[l].
Network build_net(const Shape& s, uint32_t hidden, int32_t max_delay, const std::vector<double>& w_mean) {
  Network net;
  net.dt = s.dt;
  net.n_steps = s.steps;
  net.pops.push_back({"in", PopKind::Input, s.channels});
  const std::vector<std::string> hname = {"h1", "h2", "h3", "h4"};
  for (int l = 0; l < s.hidden_layers; ++l) net.pops.push_back({hname.at(l), PopKind::LIF, hidden});
  Population out{"out", s.first_spike ? PopKind::LIF : PopKind::LI, s.outputs};
  out.readout = s.first_spike ? Readout::FirstSpike : Readout::SumExp;
  out.single_spike = s.first_spike;
  net.pops.push_back(out);
  const double dmax = max_delay * s.dt;
  const InitSpec delays{InitSpec::Dist::Uniform, 0.0, dmax};
  auto add = [&](const std::string& name, uint32_t pre, uint32_t post, InitSpec w) {
    Connection c;
    c.name = name;
    c.pre = pre;
    c.post = post;
    c.max_delay_ms = dmax;
    c.weight_init = w;
    c.delay_init = delays;
    net.conns.push_back(c);
  };
  for (int l = 0; l < s.hidden_layers; ++l) {
    const double m = w_mean[l];
    add("w_" + hname.at(l), uint32_t(l), uint32_t(l + 1), normal(m, m / 3));
    if (s.recurrent) add("rec_" + hname.at(l), uint32_t(l + 1), uint32_t(l + 1), normal(0.0, 0.02));
  }
  const uint32_t last = uint32_t(s.hidden_layers);
  add("wout", last, last + 1, s.first_spike ? normal(1.0, 1.0) : normal(0.0, 0.03));
  net.finalize();
  return net;
}

// Uniform synthetic input: distinct (channel, step) cells per sample, sorted by step.
// Yin-Yang instead gets one spike per channel at 1.5 + 18.5 * feature ms.
SpikeBatch make_input(const Shape& s, uint32_t n_samples, uint64_t seed, std::vector<int32_t>& labels) {
  SpikeBatch batch;
  Rng rng(hash_key(seed, 77));
  labels.clear();
  for (uint32_t b = 0; b < n_samples; ++b) {
    std::vector<double> t;
    std::vector<uint32_t> ch;
    if (s.first_spike) {
      for (uint32_t c = 0; c < s.channels; ++c) {
        t.push_back(1.5 + 18.5 * rng.uniform());
        ch.push_back(c);
      }
    } else {
      const uint64_t cells = uint64_t(s.channels) * s.steps;
      const uint64_t n = std::min<uint64_t>(s.input_spikes, cells);
      std::vector<uint64_t> pick;
      pick.reserve(n * 2);
      while (pick.size() < n) {
        for (uint64_t k = pick.size(); k < n; ++k) pick.push_back(rng.below(cells));
        std::sort(pick.begin(), pick.end());
        pick.erase(std::unique(pick.begin(), pick.end()), pick.end());
      }
      for (uint64_t cell : pick) {  // cell = step * channels + channel: sorted by step
        t.push_back((double(cell / s.channels) + 0.5) * s.dt);
        ch.push_back(uint32_t(cell % s.channels));
      }
    }
    batch.add_sample(t, ch, s.dt);
    labels.push_back(int32_t(rng.below(s.outputs)));
  }
  return batch;
}

SpikeBatch slice(const SpikeBatch& all, uint32_t b0, uint32_t b1) {
  SpikeBatch out;
  out.n_samples = b1 - b0;
  const uint64_t e0 = all.offsets[b0], e1 = all.offsets[b1];
  out.steps.assign(all.steps.begin() + e0, all.steps.begin() + e1);
  out.channels.assign(all.channels.begin() + e0, all.channels.begin() + e1);
  out.offsets.clear();
  for (uint32_t b = b0; b <= b1; ++b) out.offsets.push_back(all.offsets[b] - e0);
  return out;
}

double spikes_per_neuron(const ForwardOutputs& f, uint32_t p) {
  const auto& c = f.spike_counts[p];
  return double(std::accumulate(c.begin(), c.end(), uint64_t(0))) / (double(c.size()) * f.n_samples);
}

// Bisects (on a log scale) the mean input weight of each hidden layer, in order, so that the
// layer fires about `target` spikes per neuron and sample on a few calibration samples.
std::vector<double> calibrate(const Shape& s, uint32_t hidden, int32_t max_delay, double target,
                              const EngineOptions& eo, const SpikeBatch& cal, uint64_t seed) {
  std::vector<double> w_mean(s.hidden_layers, s.first_spike ? 1.0 : 0.03);
  if (target == 0) return w_mean;
  for (int l = 0; l < s.hidden_layers; ++l) {
    double lo = std::log(1e-4), hi = std::log(10.0);
    for (int it = 0; it < 14; ++it) {
      const double mid = 0.5 * (lo + hi);
      w_mean[l] = std::exp(mid);
      Network net = build_net(s, hidden, max_delay, w_mean);
      auto eng = make_engine(net, eo);
      ForwardOutputs f;
      eng->forward(init_params(net, seed), cal, f);
      if (spikes_per_neuron(f, uint32_t(l + 1)) > target) hi = mid;
      else lo = mid;
    }
    w_mean[l] = std::exp(0.5 * (lo + hi));
  }
  return w_mean;
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

// ---- The bare loop ----------------------------------------------------------------------
// Only what MODEL.md §2-§3 cannot avoid, for in -> h (recurrent) -> out, float32, one sample at a
// time on one core: ring scatter, neuron updates, adjoint steps, history gather and gradient
// accumulation. No validation, no generality, no batching.
class BareLoop {
 public:
  BareLoop(const Network& net, std::span<const double> params) : net_(net) {
    require(net.pops.size() == 3 && net.conns.size() == 3 && net.conns[1].pre == 1 && net.conns[1].post == 1,
            "--bare needs the shd-rec workload (in -> h recurrent -> out)");
    C_ = net.pops[0].size;
    H_ = net.pops[1].size;
    K_ = net.pops[2].size;
    NT_ = net.n_steps;
    kh_ = make_step_constants<float>(net.pops[1].tau_m, net.pops[1].tau_s, net.pops[1].theta, net.dt);
    ko_ = make_step_constants<float>(net.pops[2].tau_m, net.pops[2].tau_s, net.pops[2].theta, net.dt);
    for (int c = 0; c < 3; ++c) {
      const auto& conn = net.conns[c];
      w_[c].resize(conn.n_synapses());
      s_[c].resize(conn.n_synapses());
      for (size_t k = 0; k < conn.n_synapses(); ++k) {
        w_[c][k] = float(params[conn.weight_offset + k]);
        s_[c][k] = delay_steps(params[conn.delay_offset + k], net.dt, conn.max_delay_steps);
      }
    }
    const uint32_t smax = uint32_t(net.conns[0].max_delay_steps);
    rmask_ = ring_slots_for(smax + 1) - 1;
    hmask_ = ring_slots_for(smax + 2) - 1;
    ringh_.resize(size_t(rmask_ + 1) * H_);
    ringo_.resize(size_t(rmask_ + 1) * K_);
    hh_.resize(size_t(hmask_ + 1) * H_ * 2);
    ho_.resize(size_t(hmask_ + 1) * K_ * 2);
    const double T = net.trial_ms();
    for (uint32_t n = 0; n < NT_; ++n) {
      sw_.push_back(float(std::exp(-(n * net.dt) / T) / NT_));
      sd_.push_back(float(std::exp(-(n * net.dt) / T) / T));
    }
    grad_.assign(net.n_params, 0.0f);
  }

  // Forward of sample b of batch: readouts into y (K values); keeps the sample's tape.
  void forward(const SpikeBatch& batch, uint32_t b, float* y) {
    if (tapes_.size() <= b) tapes_.resize(b + 1);
    auto& tape_ = tapes_[b];
    std::vector<float> Vh(H_, 0), Ih(H_, 0), Vo(K_, 0), Io(K_, 0);
    std::fill(ringh_.begin(), ringh_.end(), 0.0f);
    std::fill(ringo_.begin(), ringo_.end(), 0.0f);
    tape_.clear();
    std::fill(y, y + K_, 0.0f);
    uint64_t in = batch.offsets[b];
    const uint64_t in_end = batch.offsets[b + 1];
    for (uint32_t n = 0; n < NT_; ++n) {
      const size_t tape0 = tape_.size();
      float* slot = ringh_.data() + size_t(n & rmask_) * H_;
      for (uint32_t j = 0; j < H_; ++j) {
        Ih[j] += slot[j];
        slot[j] = 0;
        const float i0 = Ih[j];
        lif_step(kh_, Vh[j], Ih[j]);
        if (Vh[j] >= kh_.theta) {
          tape_.push_back({int32_t(n), j, i0 - Vh[j]});
          Vh[j] = 0;
        }
      }
      float* so = ringo_.data() + size_t(n & rmask_) * K_;
      for (uint32_t k = 0; k < K_; ++k) {
        Io[k] += so[k];
        so[k] = 0;
        lif_step(ko_, Vo[k], Io[k]);
        y[k] += sw_[n] * Vo[k];
      }
      for (; in < in_end && uint32_t(batch.steps[in]) == n; ++in) scatter(0, batch.channels[in], n, ringh_.data(), H_);
      for (size_t e = tape0; e < tape_.size(); ++e) {
        scatter(1, tape_[e].neuron, n, ringh_.data(), H_);
        scatter(2, tape_[e].neuron, n, ringo_.data(), K_);
      }
    }
  }

  // Backward of sample b (after its forward()), adding into grad_.
  void backward(const SpikeBatch& batch, uint32_t b, const double* g) {
    const auto& tape_ = tapes_.at(b);
    std::vector<float> lvh(H_, 0), lih(H_, 0), lvo(K_, 0), lio(K_, 0), gk(K_);
    for (uint32_t k = 0; k < K_; ++k) gk[k] = float(g[k]);
    std::fill(hh_.begin(), hh_.end(), 0.0f);
    std::fill(ho_.begin(), ho_.end(), 0.0f);
    size_t cur = tape_.size();
    uint64_t in = batch.offsets[b + 1];
    const uint64_t in_begin = batch.offsets[b];
    float* acc = grad_.data();
    for (int32_t n = int32_t(NT_) - 1; n >= 0; --n) {
      while (cur > 0 && tape_[cur - 1].step == n) {
        const auto& e = tape_[--cur];
        float r = gather(1, e.neuron, n, hh_.data(), H_, kh_.tau_s, acc);
        r += gather(2, e.neuron, n, ho_.data(), K_, ko_.tau_s, acc);
        lvh[e.neuron] = spike_jump(lvh[e.neuron], kh_.theta, r, e.den);
      }
      float* hh = hh_.data() + size_t(uint32_t(n) & hmask_) * H_ * 2;
      for (uint32_t j = 0; j < H_; ++j) {
        adjoint_step(kh_, 0.0f, lvh[j], lih[j]);
        hh[2 * j] = lvh[j];
        hh[2 * j + 1] = lih[j];
      }
      float* ho = ho_.data() + size_t(uint32_t(n) & hmask_) * K_ * 2;
      for (uint32_t k = 0; k < K_; ++k) {
        adjoint_step(ko_, gk[k] * sd_[n], lvo[k], lio[k]);
        ho[2 * k] = lvo[k];
        ho[2 * k + 1] = lio[k];
      }
      while (in > in_begin && batch.steps[in - 1] == n) {
        --in;
        gather(0, batch.channels[in], n, hh_.data(), H_, kh_.tau_s, acc);
      }
    }
  }

  const std::vector<float>& grad() const { return grad_; }
  void reset_grad() { std::fill(grad_.begin(), grad_.end(), 0.0f); }
  size_t spikes(uint32_t b) const { return tapes_.at(b).size(); }

 private:
  struct Spike {
    int32_t step;
    uint32_t neuron;
    float den;
  };

  void scatter(int c, uint32_t i, uint32_t n, float* ring, uint32_t N) {
    const float* w = w_[c].data() + size_t(i) * N;
    const int32_t* s = s_[c].data() + size_t(i) * N;
    for (uint32_t j = 0; j < N; ++j) ring[size_t((n + 1 + uint32_t(s[j])) & rmask_) * N + j] += w[j];
  }

  // History rings interleave (lambda_V, lambda_I): one cache line per synapse, not two.
  float gather(int c, uint32_t i, int32_t n, const float* hist, uint32_t N, float tau_s, float* acc) {
    const auto& conn = net_.conns[c];
    const size_t row = size_t(i) * N;
    const float* w = w_[c].data() + row;
    const int32_t* s = s_[c].data() + row;
    float* gw = acc + conn.weight_offset + row;
    float* gd = acc + conn.delay_offset + row;
    float r = 0;
    for (uint32_t j = 0; j < N; ++j) {
      const float* h = hist + (size_t((uint32_t(n) + 1 + uint32_t(s[j])) & hmask_) * N + j) * 2;
      const float lv = h[0], li = h[1];
      r += w[j] * (lv - li);
      gw[j] -= tau_s * li;
      gd[j] -= w[j] * (li - lv);
    }
    return r;
  }

  const Network& net_;
  uint32_t C_, H_, K_, NT_, rmask_, hmask_;
  StepConstants<float> kh_, ko_;
  std::vector<float> w_[3];
  std::vector<int32_t> s_[3];
  std::vector<float> ringh_, ringo_, hh_, ho_, sw_, sd_, grad_;
  std::vector<std::vector<Spike>> tapes_;  // per sample of the batch
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<long long> int_list(const Args& a, const std::string& name, long long fallback) {
  if (!a.has(name)) return {fallback};
  std::vector<long long> out;
  for (const auto& s : split_list(a.get(name))) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(s, &used));
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      throw UsageError("--" + name + ": '" + s + "' is not an integer");
    }
  }
  if (out.empty()) throw UsageError("--" + name + ": empty list");
  return out;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds of the whole process (all threads): unlike wall time, not inflated when other
// jobs on a shared machine take the core away.
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

json run_config(const Opts& o, const Shape& s, uint32_t hidden, int32_t max_delay, int threads, uint32_t batch,
               const std::string& simd) {
  EngineOptions eo;
  eo.backend = o.backend;
  eo.precision = o.precision;
  eo.threads = threads;
  eo.simd = simd == "off" ? "scalar" : simd;
  std::vector<int32_t> labels, cal_labels;
  const SpikeBatch all = make_input(s, o.samples, o.seed, labels);
  const SpikeBatch cal = make_input(s, 2, o.seed + 1000, cal_labels);
  const auto tc0 = Clock::now();
  // The paper's regulariser target (14) for the SHD/Braille shapes; Yin-Yang hidden neurons
  // fire a few times per trial.
  const double target = o.target_rate >= 0 ? o.target_rate : (s.first_spike ? 2.0 : 14.0);
  const std::vector<double> w_mean = calibrate(s, hidden, max_delay, target, eo, cal, o.seed);
  const double calib_s = seconds(tc0, Clock::now());
  const Network net = build_net(s, hidden, max_delay, w_mean);
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
  // Warm-up: allocates workspaces and tapes.
  eng->forward(params, batches[0], f);
  compute_loss(loss, f, blabels[0], batches[0].n_samples, bin);
  eng->backward(params, bin, grad);

  double best_f = 1e300, best_b = 1e300, sum_f = 0, sum_b = 0, cpu_f = 1e300, cpu_b = 1e300;
  uint64_t events = 0, in_spikes = 0, hid_spikes = 0;
  std::vector<double> rate(s.hidden_layers, 0.0);
  for (uint32_t r = 0; r < o.repeat; ++r) {
    double tf = 0, tb = 0, cf = 0, cb = 0;
    events = in_spikes = hid_spikes = 0;
    std::fill(rate.begin(), rate.end(), 0.0);
    for (uint32_t k = 0; k < n_batches; ++k) {
      const double c0 = cpu_now();
      const auto t0 = Clock::now();
      eng->forward(params, batches[k], f);
      const auto t1 = Clock::now();
      const double c1 = cpu_now();
      compute_loss(loss, f, blabels[k], batches[k].n_samples, bin);
      const double c2 = cpu_now();
      const auto t2 = Clock::now();
      eng->backward(params, bin, grad);
      const auto t3 = Clock::now();
      const double c3 = cpu_now();
      tf += seconds(t0, t1);
      tb += seconds(t2, t3);
      cf += c1 - c0;
      cb += c3 - c2;
      events += f.synaptic_events;
      in_spikes += f.input_spikes;
      hid_spikes += f.hidden_spikes;
      for (int l = 0; l < s.hidden_layers; ++l)
        rate[l] += spikes_per_neuron(f, uint32_t(l + 1)) * f.n_samples / o.samples;
    }
    best_f = std::min(best_f, tf);
    best_b = std::min(best_b, tb);
    cpu_f = std::min(cpu_f, cf);
    cpu_b = std::min(cpu_b, cb);
    sum_f += tf;
    sum_b += tb;
  }
  const double N = o.samples;
  json j;
  j["workload"] = o.workload;
  j["backend"] = o.backend;
  j["precision"] = o.precision == Precision::Float32 ? "float32" : "float64";
  j["channels"] = s.channels;
  j["hidden"] = hidden;
  j["hidden_layers"] = s.hidden_layers;
  j["recurrent"] = s.recurrent;
  j["outputs"] = s.outputs;
  j["steps"] = s.steps;
  j["dt_ms"] = s.dt;
  j["max_delay"] = max_delay;
  j["ring_slots"] = ring_slots_for(uint32_t(max_delay) + 1);
  j["threads"] = threads;
  j["simd"] = simd;
  if (o.backend == "cpu") j["simd_kernels"] = cpu_simd_kernels(eo.simd);
  j["batch"] = batch;
  j["samples"] = o.samples;
  j["repeat"] = o.repeat;
  j["n_params"] = net.n_params;
  j["input_spikes_per_sample"] = double(in_spikes) / N;
  j["hidden_spikes_per_sample"] = double(hid_spikes) / N;
  j["spikes_per_hidden_neuron"] = rate;
  j["calib_w_mean"] = w_mean;
  j["target_rate"] = target;
  j["calib_s"] = calib_s;
  j["events_per_sample"] = double(events) / N;
  j["fwd_us_per_sample"] = best_f / N * 1e6;
  j["bwd_us_per_sample"] = best_b / N * 1e6;
  j["fwd_us_per_sample_mean"] = sum_f / o.repeat / N * 1e6;
  j["bwd_us_per_sample_mean"] = sum_b / o.repeat / N * 1e6;
  j["bwd_fwd_ratio"] = best_b / best_f;
  j["samples_per_s"] = N / (best_f + best_b);
  j["samples_per_s_mean"] = N / ((sum_f + sum_b) / o.repeat);
  j["fwd_cpu_us_per_sample"] = cpu_f / N * 1e6;
  j["bwd_cpu_us_per_sample"] = cpu_b / N * 1e6;
  j["samples_per_cpu_s"] = N / (cpu_f + cpu_b);
  j["cpu_per_wall"] = (cpu_f + cpu_b) / (best_f + best_b);
  j["ns_per_event_fwd"] = events ? best_f / double(events) * 1e9 : 0.0;
  j["ns_per_event_bwd"] = events ? best_b / double(events) * 1e9 : 0.0;
  j["engine_mib"] = double(eng->memory_bytes()) / (1024.0 * 1024.0);
  // Bitwise fingerprint of the last batch's gradient: compare engine changes with it.
  uint64_t h = 1469598103934665603ULL;
  for (double v : grad) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    h = (h ^ bits) * 1099511628211ULL;
  }
  std::ostringstream hs;
  hs << std::hex << std::setw(16) << std::setfill('0') << h;
  j["grad_hash"] = hs.str();
  j["peak_rss_mib"] = peak_rss_mib();
  {
    // Other jobs on the machine during the run (the 1-minute load average).
    std::ifstream la("/proc/loadavg");
    double load = -1;
    if (la >> load) j["loadavg_1min"] = load;
  }

  if (o.bare) {
    // The engine's dL/dy of every batch, so both compute the same gradient.
    std::vector<std::vector<double>> dldy(n_batches);
    for (uint32_t k = 0; k < n_batches; ++k) {
      eng->forward(params, batches[k], f);
      compute_loss(loss, f, blabels[k], batches[k].n_samples, bin);
      dldy[k] = bin.output_grad;
    }
    BareLoop bare(net, params);
    std::vector<float> y(s.outputs);
    double bf = 1e300, bb = 1e300, bcf = 1e300, bcb = 1e300;
    uint64_t bare_spikes = 0;
    for (uint32_t r = 0; r < o.repeat + 1; ++r) {  // the first pass is the warm-up
      double tf = 0, tb = 0, cf = 0, cb = 0;
      bare_spikes = 0;
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
        for (uint32_t b = 0; b < nb; ++b) bare_spikes += bare.spikes(b);
      }
      if (r > 0) {
        bf = std::min(bf, tf);
        bb = std::min(bb, tb);
        bcf = std::min(bcf, cf);
        bcb = std::min(bcb, cb);
      }
    }
    j["bare_fwd_us_per_sample"] = bf / N * 1e6;
    j["bare_bwd_us_per_sample"] = bb / N * 1e6;
    j["bare_samples_per_s"] = N / (bf + bb);
    j["bare_fwd_cpu_us_per_sample"] = bcf / N * 1e6;
    j["bare_bwd_cpu_us_per_sample"] = bcb / N * 1e6;
    j["bare_samples_per_cpu_s"] = N / (bcf + bcb);
    j["bare_ns_per_event_fwd"] = bf / double(events) * 1e9;
    j["bare_ns_per_event_bwd"] = bb / double(events) * 1e9;
    j["bare_hidden_spikes_per_sample"] = double(bare_spikes) / N;
    // Same work as the engine? Its gradient of the first batch must agree to float32 rounding.
    bare.reset_grad();
    eng->forward(params, batches[0], f);
    compute_loss(loss, f, blabels[0], batches[0].n_samples, bin);
    eng->backward(params, bin, grad);
    for (uint32_t b = 0; b < batches[0].n_samples; ++b) bare.forward(batches[0], b, y.data());
    for (uint32_t b = 0; b < batches[0].n_samples; ++b)
      bare.backward(batches[0], b, bin.output_grad.data() + size_t(b) * s.outputs);
    double dd = 0, nn = 0;
    for (size_t k = 0; k < grad.size(); ++k) {
      dd += (grad[k] - bare.grad()[k]) * (grad[k] - bare.grad()[k]);
      nn += grad[k] * grad[k];
    }
    j["bare_grad_rel_diff"] = nn > 0 ? std::sqrt(dd / nn) : std::sqrt(dd);
    // Ours per core as a share of the one-core bound.
    j["pct_of_bare_per_core"] = 100.0 * double(j["samples_per_s"]) / (threads * double(j["bare_samples_per_s"]));
    // The same in CPU time (robust to other jobs; equals the above on an idle machine at 1 thread).
    j["pct_of_bare_cpu"] = 100.0 * double(j["samples_per_cpu_s"]) / double(j["bare_samples_per_cpu_s"]);
  }
  return j;
}

std::string fmt(double v, int prec) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

void print_table(const std::vector<json>& rows) {
  std::cout << "\n| workload | hidden | max delay | threads | simd | batch | samples/s | fwd ms | bwd ms | bwd/fwd "
               "| ns/event fwd | ns/event bwd | spikes/neuron | events/sample | engine MiB | peak RSS MiB | % of bare |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& j : rows) {
    std::string rates;
    for (const auto& r : j["spikes_per_hidden_neuron"]) {
      if (!rates.empty()) rates += '/';
      rates += fmt(double(r), 1);
    }
    std::cout << "| " << std::string(j["workload"]) << " | " << j["hidden"] << " | " << j["max_delay"] << " | "
              << j["threads"] << " | " << (j.contains("simd_kernels") ? std::string(j["simd_kernels"]) : "-") << " | "
              << j["batch"] << " | " << fmt(j["samples_per_s"], 1) << " | "
              << fmt(double(j["fwd_us_per_sample"]) / 1e3, 2) << " | " << fmt(double(j["bwd_us_per_sample"]) / 1e3, 2)
              << " | " << fmt(j["bwd_fwd_ratio"], 2) << " | " << fmt(j["ns_per_event_fwd"], 2) << " | "
              << fmt(j["ns_per_event_bwd"], 2) << " | " << rates << " | " << fmt(double(j["events_per_sample"]) / 1e6, 2)
              << "M | " << fmt(j["engine_mib"], 1) << " | " << fmt(j["peak_rss_mib"], 0) << " | "
              << (j.contains("pct_of_bare_per_core") ? fmt(j["pct_of_bare_per_core"], 0) + " %" : std::string("-"))
              << " |\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("delayprop-bench", [&] {
    Args args(argc, argv,
              {"workload", "hidden", "max-delay", "threads", "batch", "samples", "repeat", "backend", "precision",
               "input-spikes", "channels", "outputs", "dt", "steps", "target-rate", "seed", "json", "simd"},
              {"bare", "no-table", "help"});
    if (print_version(args, "delayprop-bench")) return 0;
    if (args.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    Opts o;
    o.workload = args.get("workload", o.workload);
    o.backend = args.get("backend", o.backend);
    const std::string prec = args.get("precision", "float32");
    if (prec == "float64") o.precision = Precision::Float64;
    else if (prec != "float32") throw UsageError("--precision must be float32 or float64, got '" + prec + "'");
    o.samples = uint32_t(args.get_int("samples", o.samples));
    o.repeat = uint32_t(args.get_int("repeat", o.repeat));
    o.input_spikes = args.get_int("input-spikes", -1);
    o.channels = args.get_int("channels", -1);
    o.outputs = args.get_int("outputs", -1);
    o.steps = args.get_int("steps", -1);
    o.seed = uint64_t(args.get_int("seed", 1));
    o.bare = args.has("bare");
    if (args.has("dt")) o.dt = std::stod(args.get("dt"));
    if (args.has("target-rate")) o.target_rate = std::stod(args.get("target-rate"));
    if (o.samples < 1 || o.repeat < 1) throw UsageError("--samples and --repeat must be >= 1");
    const Shape s = shape_of(o);
    const auto hiddens = int_list(args, "hidden", s.first_spike ? 30 : 256);
    const auto delays = int_list(args, "max-delay", s.first_spike ? 1000 : 64);
    const auto threads = int_list(args, "threads", 1);
    const auto batches = int_list(args, "batch", o.samples);
    const auto simds = split_list(args.get("simd", "auto"));
    if (simds.empty()) throw UsageError("--simd: empty list");
    for (const auto& v : simds)
      if (v != "off" && v != "auto" && v != "scalar" && v != "avx2" && v != "avx512")
        throw UsageError("--simd: '" + v + "' is not off, auto, scalar, avx2 or avx512");
    std::ofstream jf;
    if (args.has("json")) {
      jf.open(args.get("json"), std::ios::app);
      require(bool(jf), "cannot open --json file '", args.get("json"), "' for appending");
    }
    std::vector<json> rows;
    for (long long h : hiddens)
      for (long long d : delays)
        for (long long t : threads)
          for (long long b : batches)
            for (const auto& simd : simds) {
              if (h < 1 || d < 0 || t < 1 || b < 1)
                throw UsageError("--hidden, --threads, --batch must be >= 1 and --max-delay >= 0");
              json j = run_config(o, s, uint32_t(h), int32_t(d), int(t), uint32_t(std::min<long long>(b, o.samples)),
                                  simd);
              std::cout << j.dump() << std::endl;
              if (jf) jf << j.dump() << "\n" << std::flush;
              rows.push_back(std::move(j));
            }
    if (!args.has("no-table")) print_table(rows);
    return 0;
  });
}
