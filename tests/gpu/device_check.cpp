// Self-contained GPU check (no GoogleTest, no HDF5/MPI/toml++): CPU vs CUDA backend on
// random small networks, GPU determinism, tape growth, the sequence task on both backends,
// and the SHD-shaped benchmark. Prints one summary block; exit 0 = pass (or no device:
// "SKIP: no CUDA device"), 1 = a check failed, 2 = an error.
//
//   delayprop-device-check [--skip-bench] [--cpu-only] [--small] [--bench-reps N]
//   --cpu-only: runs the CPU halves only (harness check on a machine without a GPU).
//   --small: tiny batches (for the CPU emulation of the kernels, tests/gpu/cuda_emu.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "core/error.hpp"
#include "core/loss.hpp"
#include "core/network.hpp"
#include "core/optimizer.hpp"
#include "core/spikes.hpp"
#include "kernels/cuda/cuda_engine.hpp"
#include "kernels/factory.hpp"
#include "test_networks.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// CPU backend threads; DELAYPROP_CHECK_CPU_THREADS overrides (1 for ThreadSanitizer runs of
// the emulation: libgomp is not instrumented).
int cpu_threads() {
  if (const char* v = std::getenv("DELAYPROP_CHECK_CPU_THREADS")) return std::max(1, std::atoi(v));
  return int(std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
}

std::vector<std::string> g_failures;
bool g_small = false;  // --small: tiny batches (the CPU emulation of the kernels is slow)
void failure(const std::string& s) {
  std::printf("  FAIL: %s\n", s.c_str());
  g_failures.push_back(s);
}

// ---- networks -----------------------------------------------------------------------------

struct Case {
  std::string name;
  Network net;
  uint32_t batch = 8;
  uint32_t spikes_per_sample = 200;
  bool first_spike_inputs = false;  // one spike per input channel (Yin-Yang-like)
  bool kicks = false;
  Precision precision = Precision::Float32;
  uint32_t tape_init = 0;  // force a tiny initial tape (tests the overflow re-run)
};

Network ff2(Readout ro) {
  Network net;
  net.dt = 1.0;
  net.n_steps = 120;
  const uint32_t in = add_pop(net, "in", PopKind::Input, 40);
  const uint32_t h1 = add_pop(net, "h1", PopKind::LIF, 60);
  const uint32_t h2 = add_pop(net, "h2", PopKind::LIF, 50);
  const uint32_t out = add_pop(net, "out", PopKind::LI, 5, ro);
  add_conn(net, "in_h1", in, h1, 20.0, 0.35, 0.2, 20.0);
  add_conn(net, "h1_h2", h1, h2, 12.0, 0.12, 0.15, 12.0);
  add_conn(net, "h2_out", h2, out, 6.0, 0.0, 0.3, 6.0);
  net.finalize();
  return net;
}

Network recurrent() {
  Network net;
  net.dt = 1.0;
  net.n_steps = 150;
  const uint32_t a = add_pop(net, "in_a", PopKind::Input, 25);
  const uint32_t b = add_pop(net, "in_b", PopKind::Input, 15);
  const uint32_t h = add_pop(net, "rec", PopKind::LIF, 300);  // > one block of threads
  const uint32_t out = add_pop(net, "out", PopKind::LI, 7, Readout::SumExp);
  add_conn(net, "a_rec", a, h, 25.0, 0.12, 0.08, 25.0);
  add_conn(net, "b_rec", b, h, 5.0, 0.12, 0.08, 5.0);
  add_conn(net, "rec_rec", h, h, 8.0, 0.0, 0.02, 8.0);
  add_conn(net, "rec_out", h, out, 10.0, 0.0, 0.2, 10.0);
  net.finalize();
  return net;
}

Network first_spike_net() {
  Network net;
  net.dt = 0.1;
  net.n_steps = 300;
  const uint32_t in = add_pop(net, "in", PopKind::Input, 4);
  const uint32_t h = add_pop(net, "hid", PopKind::LIF, 20);
  const uint32_t out = add_pop(net, "out", PopKind::LIF, 3, Readout::FirstSpike, true);
  add_conn(net, "in_hid", in, h, 5.0, 3.0, 1.5, 5.0);
  add_conn(net, "hid_out", h, out, 5.0, 1.5, 1.0, 5.0);
  net.finalize();
  return net;
}

SpikeBatch random_batch(const Network& net, uint32_t B, uint32_t spikes, bool one_per_channel, uint64_t seed) {
  std::mt19937_64 rng(seed);
  SpikeBatch batch;
  const double T = net.trial_ms();
  std::uniform_real_distribution<double> ut(0.0, T * (one_per_channel ? 0.66 : 1.0));
  std::uniform_int_distribution<uint32_t> uc(0, net.n_input_channels - 1);
  std::vector<double> t;
  std::vector<uint32_t> c;
  for (uint32_t b = 0; b < B; ++b) {
    t.clear();
    c.clear();
    if (one_per_channel) {
      for (uint32_t k = 0; k < net.n_input_channels; ++k) {
        t.push_back(ut(rng));
        c.push_back(k);
      }
    } else {
      for (uint32_t k = 0; k < spikes; ++k) {
        t.push_back(ut(rng));
        c.push_back(uc(rng));
      }
    }
    batch.add_sample(t, c, net.dt);
  }
  return batch;
}

struct RunResult {
  ForwardOutputs out;
  std::vector<double> grad;
  CudaProfile prof;  // CUDA runs
};

RunResult run_case(const Case& cs, const std::string& backend, const std::vector<double>& params, const SpikeBatch& batch,
                   const BackwardInputs* fixed_in, BackwardInputs* in_out) {
  EngineOptions opt;
  opt.backend = backend;
  opt.precision = cs.precision;
  opt.threads = cpu_threads();
  if (backend == "cuda" && cs.tape_init) setenv("DELAYPROP_CUDA_TAPE_INIT", std::to_string(cs.tape_init).c_str(), 1);
  auto engine = make_engine(cs.net, opt);
  unsetenv("DELAYPROP_CUDA_TAPE_INIT");
  RunResult r;
  engine->forward(params, batch, r.out);
  BackwardInputs in;
  if (fixed_in) {
    in = *fixed_in;
  } else {
    // Random labels; cross-entropy or first-spike loss; random regulariser kicks.
    std::mt19937_64 rng(7);
    std::vector<int32_t> labels(batch.n_samples);
    for (auto& l : labels) l = int32_t(rng() % r.out.n_outputs);
    LossSpec ls;
    ls.kind = cs.net.pops[cs.net.output].readout == Readout::FirstSpike ? LossKind::FirstSpike : LossKind::CrossEntropy;
    compute_loss(ls, r.out, labels, batch.n_samples, in);
    if (cs.kicks) {
      in.spike_kick.assign(cs.net.pops.size(), {});
      std::uniform_real_distribution<double> uk(-0.01, 0.01);
      for (uint32_t p = 0; p < cs.net.pops.size(); ++p)
        if (cs.net.pops[p].kind == PopKind::LIF && p != cs.net.output) {
          in.spike_kick[p].resize(cs.net.pops[p].size);
          for (auto& k : in.spike_kick[p]) k = uk(rng);
        }
    }
  }
  r.grad.assign(cs.net.n_params, 0.0);
  engine->backward(params, in, r.grad);
  cuda_engine_profile(*engine, r.prof);
  if (in_out) *in_out = in;
  return r;
}

double max_abs(const double* v, size_t n) {
  double m = 0;
  for (size_t k = 0; k < n; ++k) m = std::max(m, std::fabs(v[k]));
  return m;
}

// llm.c style: |gpu - cpu| <= atol + rtol |cpu| for every entry of a parameter group, with
// atol relative to the group's largest entry. Also prints the cosine similarity.
bool compare_group(const std::string& what, const double* ref, const double* got, size_t n, double atol_rel,
                   double rtol) {
  const double scale = max_abs(ref, n);
  const double atol = atol_rel * scale + 1e-30;
  double worst = 0, dot = 0, nr = 0, ng = 0;
  size_t bad = 0, worst_k = 0;
  for (size_t k = 0; k < n; ++k) {
    const double d = std::fabs(got[k] - ref[k]);
    const double lim = atol + rtol * std::fabs(ref[k]);
    if (!(d <= lim)) ++bad;
    if (d / lim > worst) {
      worst = d / lim;
      worst_k = k;
    }
    dot += ref[k] * got[k];
    nr += ref[k] * ref[k];
    ng += got[k] * got[k];
  }
  const double cosine = nr > 0 && ng > 0 ? dot / std::sqrt(nr * ng) : (nr == ng ? 1.0 : 0.0);
  std::printf("    %-22s max|ref| %.3e  worst err/tol %.3f (at %zu: ref %.6e got %.6e)  cos %.7f%s\n", what.c_str(),
              scale, worst, worst_k, n ? ref[worst_k] : 0.0, n ? got[worst_k] : 0.0, cosine, bad ? "  <--" : "");
  if (bad) {
    failure(what + ": " + std::to_string(bad) + " of " + std::to_string(n) + " entries out of tolerance");
    return false;
  }
  return true;
}

void compare_case(const Case& cs) {
  std::printf("  case %s (B=%u, %s)\n", cs.name.c_str(), cs.batch,
              cs.precision == Precision::Float64 ? "float64" : "float32");
  const auto params = init_params(cs.net, 1234);
  const SpikeBatch batch = random_batch(cs.net, cs.batch, cs.spikes_per_sample, cs.first_spike_inputs, 99);
  BackwardInputs in;
  const auto t0 = Clock::now();
  RunResult cpu = run_case(cs, "cpu", params, batch, nullptr, &in);
  const double t_cpu = ms_since(t0);
  const auto t1 = Clock::now();
  RunResult gpu = run_case(cs, "cuda", params, batch, &in, nullptr);
  const double t_gpu = ms_since(t1);
  const bool f64 = cs.precision == Precision::Float64;
  // Activity, so that a silent network cannot pass unnoticed.
  std::string activity;
  for (uint32_t p = 0; p < cs.net.pops.size(); ++p)
    if (!cpu.out.spike_counts[p].empty()) {
      uint64_t s = 0;
      for (uint32_t v : cpu.out.spike_counts[p]) s += v;
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %.2f", cs.net.pops[p].name.c_str(),
                    double(s) / (double(cs.batch) * cs.net.pops[p].size));
      activity += buf;
    }
  std::printf("    spikes/neuron/trial:%s; input %llu, hidden %llu; cpu %.0f ms, gpu %.0f ms\n", activity.c_str(),
              (unsigned long long)cpu.out.input_spikes, (unsigned long long)cpu.out.hidden_spikes, t_cpu, t_gpu);
  if (cpu.out.hidden_spikes == 0) failure(cs.name + ": the network is silent (test is meaningless)");
  std::printf("    gpu tape: %u entries per sample, %llu re-runs\n", gpu.prof.tape_capacity,
              (unsigned long long)gpu.prof.tape_regrowths);
  if (cs.tape_init && gpu.prof.tape_regrowths == 0) failure(cs.name + ": the tape never grew (path not tested)");
  // Spike trains: the forward pass is bit-identical by construction, so counts must match.
  size_t count_diff = 0;
  for (uint32_t p = 0; p < cs.net.pops.size(); ++p)
    for (size_t j = 0; j < cpu.out.spike_counts[p].size(); ++j)
      count_diff += cpu.out.spike_counts[p][j] != gpu.out.spike_counts[p][j];
  if (count_diff) failure(cs.name + ": spike counts differ for " + std::to_string(count_diff) + " neurons");
  if (cpu.out.hidden_spikes != gpu.out.hidden_spikes)
    failure(cs.name + ": hidden spikes " + std::to_string(cpu.out.hidden_spikes) + " (cpu) vs " +
            std::to_string(gpu.out.hidden_spikes) + " (gpu)");
  if (cpu.out.synaptic_events != gpu.out.synaptic_events) failure(cs.name + ": synaptic event counts differ");
  if (cpu.out.first_spike_step != gpu.out.first_spike_step) failure(cs.name + ": first-spike steps differ");
  compare_group(cs.name + " readout", cpu.out.readout.data(), gpu.out.readout.data(), cpu.out.readout.size(),
                f64 ? 1e-12 : 1e-6, f64 ? 1e-12 : 1e-6);
  for (const auto& c : cs.net.conns) {
    compare_group(c.name + " dL/dw", cpu.grad.data() + c.weight_offset, gpu.grad.data() + c.weight_offset,
                  c.n_synapses(), f64 ? 1e-9 : 2e-4, f64 ? 1e-8 : 2e-3);
    compare_group(c.name + " dL/dd", cpu.grad.data() + c.delay_offset, gpu.grad.data() + c.delay_offset,
                  c.n_synapses(), f64 ? 1e-9 : 2e-4, f64 ? 1e-8 : 2e-3);
  }
}

std::vector<Case> comparison_cases() {
  std::vector<Case> cases;
  for (Readout ro : {Readout::SumExp, Readout::Average, Readout::Max}) {
    Case c;
    c.name = std::string("ff2_") + to_string(ro);
    c.net = ff2(ro);
    c.kicks = ro == Readout::SumExp;
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "recurrent";
    c.net = recurrent();
    c.batch = 6;
    c.spikes_per_sample = 500;
    c.kicks = true;
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "first_spike";
    c.net = first_spike_net();
    c.batch = 32;
    c.first_spike_inputs = true;
    cases.push_back(c);
  }
  {
    Case c = cases[0];
    c.name = "ff2_sum_exp_f64";
    c.precision = Precision::Float64;
    cases.push_back(c);
  }
  {
    Case c = cases[4];
    c.name = "first_spike_f64";
    c.precision = Precision::Float64;
    cases.push_back(c);
  }
  {
    Case c = cases[3];
    c.name = "recurrent_tiny_tape";
    c.tape_init = 16;  // forces several re-runs of the forward pass
    cases.push_back(c);
  }
  if (g_small)
    for (auto& c : cases) c.batch = c.first_spike_inputs ? 4 : 2;
  return cases;
}

// ---- (b) determinism ------------------------------------------------------------------------

void determinism() {
  Case cs = comparison_cases()[3];
  cs.batch = g_small ? 3 : 16;
  const auto params = init_params(cs.net, 77);
  const SpikeBatch batch = random_batch(cs.net, cs.batch, cs.spikes_per_sample, false, 5);
  BackwardInputs in;
  RunResult a = run_case(cs, "cuda", params, batch, nullptr, &in);
  RunResult b = run_case(cs, "cuda", params, batch, &in, nullptr);
  const bool same_y = a.out.readout == b.out.readout;
  const bool same_g = std::memcmp(a.grad.data(), b.grad.data(), a.grad.size() * sizeof(double)) == 0;
  std::printf("  two GPU runs: readouts %s, gradients %s\n", same_y ? "bitwise equal" : "DIFFER",
              same_g ? "bitwise equal" : "DIFFER");
  if (!same_y || !same_g) failure("determinism: two GPU runs differ");
  std::string detail;
  const bool same_sum = cuda_exact_sum_matches_cpu(2024, detail);
  std::printf("  exact gradient sums: %s\n", detail.c_str());
  if (!same_sum) failure("determinism: " + detail);
}

// ---- (c) sequence task ------------------------------------------------------------------------

// MODEL.md §6: 2 in -> 2 LI (max), tau_m 10, weights fixed 1, worst-case delays, Adam lr 1 ms on
// delays. Returns the presentations of each example until both are classified (0 = never).
int sequence_task(const std::string& backend) {
  Network net;
  net.dt = 1.0;
  net.n_steps = 25;
  const uint32_t in = add_pop(net, "in", PopKind::Input, 2);
  const uint32_t out = add_pop(net, "out", PopKind::LI, 2, Readout::Max, false, 10.0, 5.0);
  add_conn(net, "in_out", in, out, 15.0, 1.0, 0.0, 0.0);
  net.conns[0].weight_init = {InitSpec::Dist::Constant, 1.0, 0.0};
  net.conns[0].learn_weights = false;
  net.finalize();
  std::vector<double> params = init_params(net, 1);
  const auto& c = net.conns[0];
  for (size_t k = 0; k < 4; ++k) params[c.weight_offset + k] = 1.0;
  // delays[i * 2 + j]: in i -> out j; worst case: straight 0, cross 10 ms.
  params[c.delay_offset + 0] = 0.0;
  params[c.delay_offset + 3] = 0.0;
  params[c.delay_offset + 1] = 10.0;
  params[c.delay_offset + 2] = 10.0;
  SpikeBatch ex[2];
  ex[0].add_sample(std::vector<double>{0.0, 10.0}, std::vector<uint32_t>{0, 1}, net.dt);  // A -> out 0
  ex[1].add_sample(std::vector<double>{0.0, 10.0}, std::vector<uint32_t>{1, 0}, net.dt);  // B -> out 1
  EngineOptions opt;
  opt.backend = backend;
  auto engine = make_engine(net, opt);
  Adam adam(net);
  LossSpec ls;
  std::vector<double> grad(net.n_params);
  auto correct = [&](int k) {
    ForwardOutputs o;
    engine->forward(params, ex[k], o);
    return predict(ls, o.readout.data(), o.first_spike_step.data(), 2) == k;
  };
  for (int pres = 1; pres <= 20; ++pres) {
    for (int k = 0; k < 2; ++k) {
      ForwardOutputs o;
      engine->forward(params, ex[k], o);
      BackwardInputs bi;
      const int32_t label = k;
      compute_loss(ls, o, std::span<const int32_t>(&label, 1), 1, bi);
      engine->backward(params, bi, grad);
      adam.step(params, grad, 0.0, 1.0);
    }
    if (correct(0) && correct(1)) return pres;
  }
  return 0;
}

// ---- (d) benchmark -------------------------------------------------------------------------------

Network shd_ff(double max_delay_ms) {
  Network net;
  net.dt = 1.0;
  net.n_steps = 1000;
  const uint32_t in = add_pop(net, "in", PopKind::Input, 700);
  const uint32_t h1 = add_pop(net, "h1", PopKind::LIF, 256);
  const uint32_t h2 = add_pop(net, "h2", PopKind::LIF, 256);
  const uint32_t out = add_pop(net, "out", PopKind::LI, 20, Readout::SumExp);
  // Weights tuned (on the CPU backend) for about 14 spikes per hidden neuron and trial with
  // 10,000 uniform random input spikes per sample.
  add_conn(net, "in_h1", in, h1, max_delay_ms, 0.021, 0.02, max_delay_ms);
  add_conn(net, "h1_h2", h1, h2, max_delay_ms, 0.05, 0.04, max_delay_ms);
  add_conn(net, "h2_out", h2, out, max_delay_ms, 0.0, 0.03, max_delay_ms);
  net.finalize();
  return net;
}

struct BenchRow {
  int max_delay = 0;
  double fwd_ms = 0, bwd_ms = 0, fwd_gpu_ms = 0, bwd_gpu_ms = 0, first_ms = 0, mem_mib = 0, engine_mib = 0, rate_h1 = 0, rate_h2 = 0;
};

double rate(const ForwardOutputs& o, uint32_t p, uint32_t B) {
  uint64_t s = 0;
  for (uint32_t v : o.spike_counts[p]) s += v;
  return double(s) / (double(B) * o.spike_counts[p].size());
}

BenchRow bench_one(int max_delay, const std::string& backend, uint32_t B, int reps) {
  const Network net = shd_ff(max_delay);
  const auto params = init_params(net, 2024);
  const SpikeBatch batch = random_batch(net, B, 10000, false, 31);
  BenchRow row;
  row.max_delay = max_delay;
  size_t free0 = 0, free1 = 0, total = 0;
  if (backend == "cuda") cuda_mem_info(0, free0, total);
  EngineOptions opt;
  opt.backend = backend;
  opt.threads = cpu_threads();
  auto engine = make_engine(net, opt);
  ForwardOutputs out;
  BackwardInputs in;
  std::vector<double> grad(net.n_params);
  std::vector<int32_t> labels(B);
  for (uint32_t b = 0; b < B; ++b) labels[b] = int32_t(b % 20);
  auto t0 = Clock::now();
  engine->forward(params, batch, out);
  const double first_fwd = ms_since(t0);
  compute_loss(LossSpec{}, out, labels, B, in);
  t0 = Clock::now();
  engine->backward(params, in, grad);
  const double first_bwd = ms_since(t0);
  row.first_ms = first_fwd + first_bwd;
  if (row.first_ms > 15000) reps = 0;  // far too slow: report the first batch, keep the time budget
  if (backend == "cuda") cuda_mem_info(0, free1, total);
  row.mem_mib = free0 > free1 ? double(free0 - free1) / (1 << 20) : 0.0;
  row.engine_mib = double(engine->memory_bytes()) / (1 << 20);
  row.rate_h1 = rate(out, 1, B);
  row.rate_h2 = rate(out, 2, B);
  std::vector<double> tf, tb;
  for (int r = 0; r < reps; ++r) {
    t0 = Clock::now();
    engine->forward(params, batch, out);
    tf.push_back(ms_since(t0));
    t0 = Clock::now();
    engine->backward(params, in, grad);
    tb.push_back(ms_since(t0));
  }
  row.fwd_ms = tf.empty() ? first_fwd : *std::min_element(tf.begin(), tf.end());
  row.bwd_ms = tb.empty() ? first_bwd : *std::min_element(tb.begin(), tb.end());
  CudaProfile prof;
  if (cuda_engine_profile(*engine, prof)) {  // the last repetition
    row.fwd_gpu_ms = prof.fwd_gpu_ms;
    row.bwd_gpu_ms = prof.bwd_gpu_ms;
    std::printf("  max delay %4d: host prep fwd %.1f ms bwd %.1f ms, device fwd %.1f ms bwd %.1f ms, downloads "
                "fwd %.1f ms bwd %.1f ms, tape %u/sample, backward in %u launch(es)\n",
                max_delay, prof.fwd_prep_ms, prof.bwd_prep_ms, prof.fwd_gpu_ms, prof.bwd_gpu_ms, prof.fwd_out_ms,
                prof.bwd_out_ms, prof.tape_capacity, prof.bwd_chunks);
  }
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  bool skip_bench = false, cpu_only = false;
  int reps = 3;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    if (s == "--skip-bench") skip_bench = true;
    else if (s == "--cpu-only") cpu_only = true;
    else if (s == "--small") g_small = true;
    else if (s == "--bench-reps" && a + 1 < argc) reps = std::max(1, std::atoi(argv[++a]));
    else {
      std::fprintf(stderr, "usage: %s [--skip-bench] [--cpu-only] [--small] [--bench-reps N]\n", argv[0]);
      return 2;
    }
  }
  try {
    if (cpu_only) {
      // Harness check without a GPU: CPU activity of the cases, the sequence task, the
      // benchmark network's activity and CPU time (batch 4).
      for (const auto& cs : comparison_cases()) {
        const auto params = init_params(cs.net, 1234);
        const SpikeBatch batch = random_batch(cs.net, cs.batch, cs.spikes_per_sample, cs.first_spike_inputs, 99);
        BackwardInputs in;
        RunResult r = run_case(cs, "cpu", params, batch, nullptr, &in);
        std::printf("case %-20s hidden spikes %llu:", cs.name.c_str(), (unsigned long long)r.out.hidden_spikes);
        for (uint32_t p = 0; p < cs.net.pops.size(); ++p)
          if (!r.out.spike_counts[p].empty()) std::printf(" %s %.2f", cs.net.pops[p].name.c_str(), rate(r.out, p, cs.batch));
        std::printf("  |grad| %.3e\n", max_abs(r.grad.data(), r.grad.size()));
      }
      std::printf("sequence task (cpu): %d presentations of each example\n", sequence_task("cpu"));
      if (!skip_bench) {
        const BenchRow r = bench_one(64, "cpu", 4, 1);
        std::printf("bench net (cpu, B=4, delay 64): h1 %.2f h2 %.2f spikes/neuron, fwd %.0f ms, bwd %.0f ms\n",
                    r.rate_h1, r.rate_h2, r.fwd_ms, r.bwd_ms);
      }
      return 0;
    }
    const int ndev = cuda_device_count();
    if (ndev == 0) {
      std::printf("SKIP: no CUDA device\n");
      return 0;
    }
    const std::string device = cuda_device_description(0);
    std::printf("device 0: %s (%d visible)\n", device.c_str(), ndev);

    std::printf("(a) CPU vs GPU\n");
    const auto cases = comparison_cases();
    const size_t fails_before_a = g_failures.size();
    for (const auto& cs : cases) compare_case(cs);
    const bool ok_a = g_failures.size() == fails_before_a;

    std::printf("(b) determinism\n");
    const size_t fails_before_b = g_failures.size();
    determinism();
    const bool ok_b = g_failures.size() == fails_before_b;

    std::printf("(c) sequence task\n");
    const int seq_cpu = sequence_task("cpu");
    const int seq_gpu = sequence_task("cuda");
    std::printf("  presentations of each example until 100 %%: cpu %d, gpu %d (0 = not learned in 20)\n", seq_cpu,
                seq_gpu);
    const bool ok_c = seq_cpu >= 1 && seq_cpu <= 6 && seq_gpu >= 1 && seq_gpu <= 6;
    if (!ok_c) failure("sequence task not learned within 6 presentations");

    std::vector<BenchRow> rows;
    if (!skip_bench) {
      std::printf("(d) benchmark: 700 -> 256 -> 256 -> 20 ff, batch 256, 1000 steps of 1 ms, 10,000 input spikes\n");
      const auto bench_start = Clock::now();
      for (int d : {64, 256, 1024}) {
        if (ms_since(bench_start) > 150000) {
          failure("benchmark: out of time before max delay " + std::to_string(d));
          break;
        }
        rows.push_back(bench_one(d, "cuda", 256, reps));
        const auto& r = rows.back();
        std::printf("  max delay %4d: fwd %.1f ms, bwd %.1f ms (first batch %.1f ms), GPU memory %.0f MiB "
                    "(engine %.0f MiB), h1 %.2f h2 %.2f spikes/neuron\n",
                    d, r.fwd_ms, r.bwd_ms, r.first_ms, r.mem_mib, r.engine_mib, r.rate_h1, r.rate_h2);
      }
    }

    std::printf("\n==================== DEVICE CHECK SUMMARY ====================\n");
    std::printf("device: %s\n", device.c_str());
    std::printf("(a) cpu vs gpu, %zu cases ........ %s\n", cases.size(), ok_a ? "PASS" : "FAIL");
    std::printf("(b) determinism ................. %s\n", ok_b ? "PASS" : "FAIL");
    std::printf("(c) sequence task (<= 6) ........ %s (cpu %d, gpu %d presentations)\n", ok_c ? "PASS" : "FAIL",
                seq_cpu, seq_gpu);
    if (!rows.empty()) {
      std::printf("(d) benchmark (batch 256, 1000 steps; SHD epoch = 8156 samples = %.2f batches)\n", 8156.0 / 256);
      std::printf("    (wall = engine calls incl. host work; dev = device part only)\n");
      std::printf("    max_delay  fwd_ms  bwd_ms  dev_fwd  dev_bwd  batch_ms  epoch_s  gpu_MiB  h1_rate  h2_rate\n");
      for (const auto& r : rows)
        std::printf("    %9d  %6.1f  %6.1f  %7.1f  %7.1f  %8.1f  %7.2f  %7.0f  %7.2f  %7.2f\n", r.max_delay, r.fwd_ms,
                    r.bwd_ms, r.fwd_gpu_ms, r.bwd_gpu_ms, r.fwd_ms + r.bwd_ms,
                    (r.fwd_ms + r.bwd_ms) * 8156.0 / 256 / 1000, r.mem_mib, r.rate_h1, r.rate_h2);
      if (rows.size() == 3)
        std::printf("    time ratio max_delay 1024 / 64: %.2f\n",
                    (rows[2].fwd_ms + rows[2].bwd_ms) / (rows[0].fwd_ms + rows[0].bwd_ms));
    }
    for (const auto& f : g_failures) std::printf("failure: %s\n", f.c_str());
    std::printf("overall: %s\n", g_failures.empty() ? "PASS" : "FAIL");
    std::printf("==============================================================\n");
    return g_failures.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("ERROR: %s\n", e.what());
    return 2;
  }
}
