// Self-contained GPU check (no GoogleTest, no HDF5/MPI/toml++; static CUDA runtime, NCCL by
// dlopen): CPU vs CUDA backend on random feedforward and recurrent networks, GPU
// determinism, tape growth, the sequence task on both backends, a 1-rank NCCL all-reduce,
// compute-sanitizer memcheck/racecheck on a small case, and the SHD-shaped benchmark.
// Prints a summary and writes one JSON file (docs/GPU.md, "Device check").
//
//   delayprop-device-check [--json FILE] [--skip-bench] [--cpu-only] [--small]
//                          [--bench-reps N] [--budget-s S] [--no-sanitizer]
//   --json FILE: the results (default device_check.json); rewritten after every section.
//   --cpu-only: runs the CPU halves only (harness check on a machine without a GPU).
//   --small: tiny batches (for the CPU emulation of the kernels, tests/gpu/cuda_emu.hpp).
//   --budget-s: the whole check's time budget (default 170 s); the benchmark and the
//     sanitizer runs shrink to fit it.
//   --sections LETTERS: run only these sections (default abcdefg): a agreement, b determinism,
//     c sequence task, d benchmark, e NCCL, f compute-sanitizer, g device-resident training
//     (ctest splits the emulation).
//   --sanitizer-case: internal; the small case that compute-sanitizer runs.
// Exit status: 0 = pass, or no NVIDIA device at all ("SKIP: no NVIDIA device"); 1 = a check
// failed or any CUDA error on a machine that has an NVIDIA device; 2 = usage.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "core/error.hpp"
#include "core/loss.hpp"
#include "core/network.hpp"
#include "core/optimizer.hpp"
#include "core/resident.hpp"
#include "bench/workload.hpp"
#include "core/spikes.hpp"
#include "kernels/cuda/cuda_engine.hpp"
#include "kernels/factory.hpp"
#include "dist/comm.hpp"
#include "test_networks.hpp"
#include "train/step.hpp"
#ifdef DELAYPROP_HAVE_NCCL_RUNTIME
#include "dist/nccl_lib.hpp"
#endif

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
const Clock::time_point g_start = Clock::now();
double g_budget_s = 170;
double seconds_left() { return g_budget_s - ms_since(g_start) / 1000.0; }

// CPU backend threads; DELAYPROP_CHECK_CPU_THREADS overrides (1 for ThreadSanitizer runs of
// the emulation: libgomp is not instrumented).
int cpu_threads() {
  if (const char* v = std::getenv("DELAYPROP_CHECK_CPU_THREADS")) return std::max(1, std::atoi(v));
  return int(std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
}

// ---- a small JSON document --------------------------------------------------------------------

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += char(c);
    else if (c == '\n') o += "\\n";
    else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += char(c);
  }
  return o + "\"";
}
std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// An object whose members keep their order; values are JSON text.
struct JObj {
  std::vector<std::pair<std::string, std::string>> m;
  JObj& set(const std::string& k, const std::string& json_text) {
    for (auto& [key, v] : m)
      if (key == k) {
        v = json_text;
        return *this;
      }
    m.emplace_back(k, json_text);
    return *this;
  }
  JObj& str(const std::string& k, const std::string& v) { return set(k, json_str(v)); }
  JObj& num(const std::string& k, double v) { return set(k, json_num(v)); }
  JObj& boolean(const std::string& k, bool v) { return set(k, v ? "true" : "false"); }
  std::string text(int indent = 0) const {
    const std::string pad(size_t(indent + 2), ' ');
    std::string o = "{";
    for (size_t i = 0; i < m.size(); ++i) o += (i ? ",\n" : "\n") + pad + json_str(m[i].first) + ": " + m[i].second;
    return o + (m.empty() ? "}" : "\n" + std::string(size_t(indent), ' ') + "}");
  }
};
std::string json_array(const std::vector<std::string>& items) {
  std::string o = "[";
  for (size_t i = 0; i < items.size(); ++i) o += (i ? ", " : "") + items[i];
  return o + "]";
}

JObj g_json;
std::string g_json_path = "device_check.json";
std::vector<std::string> g_failures;
bool g_small = false;  // --small: tiny batches (the CPU emulation of the kernels is slow)

void failure(const std::string& s) {
  std::printf("  FAIL: %s\n", s.c_str());
  g_failures.push_back(s);
}

// Rewritten after every section, so that a run stopped by a time limit leaves what it had.
void write_json(const std::string& status) {
  g_json.str("status", status);
  g_json.num("elapsed_s", ms_since(g_start) / 1000.0);
  std::vector<std::string> f;
  for (const auto& x : g_failures) f.push_back(json_str(x));
  g_json.set("failures", json_array(f));
  const std::string tmp = g_json_path + ".tmp";
  {
    std::ofstream os(tmp);
    os << g_json.text() << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, g_json_path, ec);
}

// An NVIDIA device exists on this machine (whatever the CUDA runtime says): a device node
// /dev/nvidiaN, a GPU under /proc/driver/nvidia/gpus, or WSL's /dev/dxg.
// DELAYPROP_DEVICE_CHECK_DEV names a folder that stands for /dev (tests of the FAIL path).
std::string nvidia_device_evidence() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const char* dev_env = std::getenv("DELAYPROP_DEVICE_CHECK_DEV");
  const std::string dev = dev_env && *dev_env ? dev_env : "/dev";
  for (const auto& e : fs::directory_iterator(dev, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 6 && n.rfind("nvidia", 0) == 0 && std::isdigit(static_cast<unsigned char>(n[6]))) return e.path().string();
  }
  if (fs::is_directory("/proc/driver/nvidia/gpus", ec) && !fs::is_empty("/proc/driver/nvidia/gpus", ec))
    return "/proc/driver/nvidia/gpus";
  if (fs::exists("/dev/dxg", ec)) return "/dev/dxg";
  return "";
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
  int shared_budget = -1;  // >= 0: bytes of shared memory for rings / histories per block
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

// Awkward wiring and sizes: two connections from one input population into the same
// recurrent population, a second input population, inputs straight into the LI output next to
// the hidden arrivals (both kinds in one ring cell), sizes that fill no block or warp.
Network mixed_net() {
  Network net;
  net.dt = 1.0;
  net.n_steps = 97;
  const uint32_t a = add_pop(net, "in_a", PopKind::Input, 17);
  const uint32_t b = add_pop(net, "in_b", PopKind::Input, 9);
  const uint32_t h = add_pop(net, "rec", PopKind::LIF, 70);
  const uint32_t out = add_pop(net, "out", PopKind::LI, 6, Readout::Average);
  add_conn(net, "a_rec", a, h, 13.0, 0.15, 0.1, 13.0);
  add_conn(net, "b_rec", b, h, 3.0, 0.1, 0.1, 3.0);
  add_conn(net, "a_rec2", a, h, 7.0, 0.05, 0.1, 7.0);
  add_conn(net, "rec_rec", h, h, 5.0, 0.0, 0.05, 5.0);
  add_conn(net, "rec_out", h, out, 9.0, 0.0, 0.2, 9.0);
  add_conn(net, "a_out", a, out, 4.0, 0.0, 0.3, 4.0);
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
  if (backend == "cuda" && cs.shared_budget >= 0)
    setenv("DELAYPROP_CUDA_SHARED_BUDGET", std::to_string(cs.shared_budget).c_str(), 1);
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
  unsetenv("DELAYPROP_CUDA_SHARED_BUDGET");  // read by every forward pass
  cuda_engine_profile(*engine, r.prof);
  if (in_out) *in_out = in;
  return r;
}

double max_abs(const double* v, size_t n) {
  double m = 0;
  for (size_t k = 0; k < n; ++k) m = std::max(m, std::fabs(v[k]));
  return m;
}

// Every entry of a group: |gpu - cpu| <= tol * max|cpu| of the group (tol 1e-5 in float32,
// 1e-12 in float64). Prints the worst entry and the cosine similarity; returns the JSON.
std::string compare_group(const std::string& what, const double* ref, const double* got, size_t n, double tol) {
  const double scale = max_abs(ref, n);
  const double atol = tol * scale;
  double worst = 0, dot = 0, nr = 0, ng = 0;
  size_t bad = 0, worst_k = 0;
  for (size_t k = 0; k < n; ++k) {
    const double d = std::fabs(got[k] - ref[k]);
    if (!(d <= atol)) ++bad;
    if (!(d <= worst)) {
      worst = d;
      worst_k = k;
    }
    dot += ref[k] * got[k];
    nr += ref[k] * ref[k];
    ng += got[k] * got[k];
  }
  const double cosine = nr > 0 && ng > 0 ? dot / std::sqrt(nr * ng) : (nr == ng ? 1.0 : 0.0);
  const double rel = scale > 0 ? worst / scale : (worst > 0 ? INFINITY : 0.0);
  std::printf("    %-22s max|cpu| %.3e  max|gpu-cpu|/max|cpu| %.2e (tol %.0e; at %zu: cpu %.6e gpu %.6e)  cos %.9f%s\n",
              what.c_str(), scale, rel, tol, worst_k, n ? ref[worst_k] : 0.0, n ? got[worst_k] : 0.0, cosine,
              bad ? "  <--" : "");
  if (bad) failure(what + ": " + std::to_string(bad) + " of " + std::to_string(n) + " entries out of tolerance");
  JObj j;
  j.str("group", what).num("n", double(n)).num("max_abs_cpu", scale).num("max_abs_diff", worst);
  j.num("max_abs_diff_over_max_abs", rel).num("tolerance", tol).num("cosine", cosine).boolean("pass", bad == 0);
  return j.text(8);
}

std::string compare_case(const Case& cs) {
  const bool f64 = cs.precision == Precision::Float64;
  std::printf("  case %s (B=%u, %s)\n", cs.name.c_str(), cs.batch, f64 ? "float64" : "float32");
  const size_t fails_before = g_failures.size();
  const auto params = init_params(cs.net, 1234);
  const SpikeBatch batch = random_batch(cs.net, cs.batch, cs.spikes_per_sample, cs.first_spike_inputs, 99);
  BackwardInputs in;
  const auto t0 = Clock::now();
  RunResult cpu = run_case(cs, "cpu", params, batch, nullptr, &in);
  const double t_cpu = ms_since(t0);
  const auto t1 = Clock::now();
  RunResult gpu = run_case(cs, "cuda", params, batch, &in, nullptr);
  const double t_gpu = ms_since(t1);
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
  std::printf("    gpu dynamic shared memory per block: forward (state, rings) %llu B, backward (state, histories) %llu B\n",
              (unsigned long long)gpu.prof.shared_ring_bytes, (unsigned long long)gpu.prof.shared_hist_bytes);
  if (cs.shared_budget == 0 && (gpu.prof.shared_ring_bytes || gpu.prof.shared_hist_bytes))
    failure(cs.name + ": shared memory used with a budget of 0");
  if (cs.shared_budget > 0 && (!gpu.prof.shared_ring_bytes || !gpu.prof.shared_hist_bytes))
    failure(cs.name + ": no ring or no history in shared memory (split path not tested)");
  // Spikes: the forward pass is bit-identical by construction, so every neuron's count, every
  // first-spike step and the totals must match exactly.
  size_t count_diff = 0;
  for (uint32_t p = 0; p < cs.net.pops.size(); ++p)
    for (size_t j = 0; j < cpu.out.spike_counts[p].size(); ++j)
      count_diff += cpu.out.spike_counts[p][j] != gpu.out.spike_counts[p][j];
  if (count_diff) failure(cs.name + ": spike counts differ for " + std::to_string(count_diff) + " neurons");
  const bool same_totals = cpu.out.hidden_spikes == gpu.out.hidden_spikes &&
                           cpu.out.synaptic_events == gpu.out.synaptic_events &&
                           cpu.out.input_spikes == gpu.out.input_spikes;
  if (!same_totals)
    failure(cs.name + ": hidden spikes " + std::to_string(cpu.out.hidden_spikes) + " (cpu) vs " +
            std::to_string(gpu.out.hidden_spikes) + " (gpu), or synaptic event / input counts differ");
  const bool same_first = cpu.out.first_spike_step == gpu.out.first_spike_step;
  if (!same_first) failure(cs.name + ": first-spike steps differ");
  // Both backends sum every ring cell in the canonical order (MODEL.md §2.3): the readouts
  // are bitwise equal, not just close.
  const bool same_readout = cpu.out.readout == gpu.out.readout;
  if (!same_readout) failure(cs.name + ": readouts are not bitwise equal");
  const double tol = f64 ? 1e-12 : 1e-5;
  std::vector<std::string> groups;
  groups.push_back(compare_group(cs.name + " readout", cpu.out.readout.data(), gpu.out.readout.data(),
                                 cpu.out.readout.size(), tol));
  for (const auto& c : cs.net.conns) {
    groups.push_back(compare_group(c.name + " dL/dw", cpu.grad.data() + c.weight_offset,
                                   gpu.grad.data() + c.weight_offset, c.n_synapses(), tol));
    groups.push_back(compare_group(c.name + " dL/dd", cpu.grad.data() + c.delay_offset,
                                   gpu.grad.data() + c.delay_offset, c.n_synapses(), tol));
  }
  JObj j;
  j.str("case", cs.name).str("precision", f64 ? "float64" : "float32").num("batch", cs.batch);
  j.boolean("recurrent", cs.name.find("recurrent") != std::string::npos);
  j.num("hidden_spikes_cpu", double(cpu.out.hidden_spikes)).num("hidden_spikes_gpu", double(gpu.out.hidden_spikes));
  j.num("neurons_with_different_spike_counts", double(count_diff)).boolean("first_spike_steps_identical", same_first);
  j.boolean("spikes_identical", count_diff == 0 && same_totals && same_first);
  j.boolean("readouts_identical", same_readout);
  j.num("tape_regrowths", double(gpu.prof.tape_regrowths));
  j.num("shared_ring_bytes", double(gpu.prof.shared_ring_bytes)).num("shared_hist_bytes", double(gpu.prof.shared_hist_bytes));
  j.num("cpu_ms", t_cpu).num("gpu_ms", t_gpu);
  j.set("groups", "[\n        " + [&] {
    std::string o;
    for (size_t i = 0; i < groups.size(); ++i) o += (i ? ",\n        " : "") + groups[i];
    return o;
  }() + "]");
  j.boolean("pass", g_failures.size() == fails_before);
  return j.text(4);
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
  {
    Case c;
    c.name = "mixed";
    c.net = mixed_net();
    c.batch = 5;
    c.spikes_per_sample = 400;  // repeated (step, channel) spikes too
    c.kicks = true;
    cases.push_back(c);
    c.name = "mixed_f64";
    c.precision = Precision::Float64;
    cases.push_back(c);
  }
  {
    Case c = cases[3];
    c.name = "recurrent_global";
    c.shared_budget = 0;  // the state, every ring and every history in global memory
    cases.push_back(c);
    c = cases[0];
    c.name = "ff2_sum_exp_split";
    c.shared_budget = 1000;  // h1's and out's rings and out's history shared; the state, h2's global
    cases.push_back(c);
  }
  if (g_small)
    for (auto& c : cases) c.batch = c.first_spike_inputs ? 4 : 2;
  return cases;
}

// ---- (b) determinism ------------------------------------------------------------------------

std::string determinism() {
  JObj j;
  for (int which : {3, 0, 8}) {  // recurrent, feedforward, mixed wiring
    Case cs = comparison_cases()[which];
    cs.batch = g_small ? 3 : 16;
    const auto params = init_params(cs.net, 77);
    const SpikeBatch batch = random_batch(cs.net, cs.batch, cs.spikes_per_sample, false, 5);
    BackwardInputs in;
    RunResult a = run_case(cs, "cuda", params, batch, nullptr, &in);
    RunResult b = run_case(cs, "cuda", params, batch, &in, nullptr);
    const bool same_y = a.out.readout == b.out.readout && a.out.spike_counts == b.out.spike_counts;
    const bool same_g = std::memcmp(a.grad.data(), b.grad.data(), a.grad.size() * sizeof(double)) == 0;
    std::printf("  %s, two GPU runs: spikes and readouts %s, gradients %s\n", cs.name.c_str(),
                same_y ? "bitwise equal" : "DIFFER", same_g ? "bitwise equal" : "DIFFER");
    if (!same_y || !same_g) failure("determinism: two GPU runs of " + cs.name + " differ");
    JObj c;
    c.boolean("readouts_bitwise_equal", same_y).boolean("gradients_bitwise_equal", same_g);
    j.set(cs.name, c.text(4));
  }
  // The GPU's exact gradient sums (core/exact_sum.hpp) against the CPU's, in several chunkings.
  std::string detail;
  const bool same_sum = cuda_exact_sum_matches_cpu(2024, detail);
  std::printf("  exact gradient sums: %s\n", detail.c_str());
  if (!same_sum) failure("determinism: " + detail);
  j.boolean("exact_sums_match_cpu", same_sum).str("exact_sums", detail);
  return j.text(2);
}

// ---- (e) NCCL ------------------------------------------------------------------------------------

// A 1-rank NCCL communicator: the library loads, the non-blocking initialisation finishes,
// and an all-reduce (host -> device, all-reduce, device -> host on one stream) returns its
// input. Not a failure when NCCL cannot be loaded (reported as such).
std::string nccl_check() {
  JObj j;
#if defined(DELAYPROP_HAVE_NCCL_RUNTIME) && !defined(DELAYPROP_DEVICE_CHECK_EMULATED)
  std::string why;
  if (!dist::nccl_load(&why)) {
    std::printf("  NCCL not loaded: %s\n", why.c_str());
    j.boolean("loaded", false).str("reason", why);
    return j.text(2);
  }
  j.boolean("loaded", true).str("library", dist::nccl_describe());
  std::printf("  %s\n", dist::nccl_describe().c_str());
  try {
    const auto t0 = Clock::now();
    dist::NcclGroup group(dist::nccl_unique_id(), 0, 1, 0, 30.0);
    const double t_init = ms_since(t0);
    std::vector<double> v(1 << 20);
    for (size_t k = 0; k < v.size(); ++k) v[k] = double(k) * 0.5 - 7.0;
    const std::vector<double> want = v;
    std::vector<uint32_t> u(1000);
    for (size_t k = 0; k < u.size(); ++k) u[k] = uint32_t(k * 3);
    const std::vector<uint32_t> want_u = u;
    const auto t1 = Clock::now();
    group.allreduce_host(v.data(), v.size(), dist::NcclType::f64);
    const double t_ar = ms_since(t1);
    group.allreduce_host(u.data(), u.size(), dist::NcclType::u32);
    const bool ok = v == want && u == want_u;
    std::printf("  1-rank all-reduce of 2^20 doubles and 1000 uint32: %s (init %.0f ms, all-reduce %.2f ms)\n",
                ok ? "correct" : "WRONG", t_init, t_ar);
    if (!ok) failure("NCCL: a 1-rank all-reduce changed the data");
    j.boolean("allreduce_correct", ok).num("init_ms", t_init).num("allreduce_8MiB_ms", t_ar);
  } catch (const std::exception& e) {
    failure(std::string("NCCL: ") + e.what());
    j.boolean("allreduce_correct", false).str("error", e.what());
  }
#else
  j.boolean("loaded", false).str("reason", "not part of this build (CPU emulation of the kernels)");
  std::printf("  not part of this build\n");
#endif
  return j.text(2);
}

// ---- (g) device-resident training -----------------------------------------------------------

// The gradient summed over "ranks" by a stand-in: a second rank that holds the same gradient
// (as the dry-run communicator pretends), so every digit doubles, in place. In the CPU
// emulation the engine's buffers are host memory, so it works on the "device" buffer as NCCL
// would (on_device); on a GPU it takes the engine's host copies. It records the buckets.
class StandInReducer final : public GradientReducer {
 public:
#ifdef DELAYPROP_DEVICE_CHECK_EMULATED
  bool on_device() const override { return true; }
#else
  bool on_device() const override { return false; }
#endif
  void reduce(int64_t* digits, size_t n, void*) override {
    for (size_t k = 0; k < n; ++k) digits[k] *= 2;
    buckets.push_back({digits, n});
  }
  std::vector<std::pair<int64_t*, size_t>> buckets;
};

#if defined(DELAYPROP_HAVE_NCCL_RUNTIME) && !defined(DELAYPROP_DEVICE_CHECK_EMULATED)
// The real thing at one rank: NCCL's in-place all-reduce of the device digits on the engine's
// stream (one rank: the sum is the input).
class NcclReducer final : public GradientReducer {
 public:
  explicit NcclReducer(dist::NcclGroup& g) : g_(g) {}
  bool on_device() const override { return true; }
  void reduce(int64_t* digits, size_t n, void* stream) override {
    g_.allreduce_device(digits, n, dist::NcclType::u64, stream);
  }

 private:
  dist::NcclGroup& g_;
};
#endif

struct TrainRun {
  std::vector<double> params, m, v, sums;  // sums: every step's loss, correct, samples
  uint32_t silent_outputs = 0;             // (step, output neuron) pairs without a spike: bumps
};

// The start parameters: with the silent-output bump, output neuron 0 starts with no input
// weight, so that it is silent and the bump acts (the other outputs spike and learn).
std::vector<double> start_params(const Case& cs, const ResidentSpec& spec) {
  std::vector<double> p = init_params(cs.net, 31);
  if (spec.output_bump > 0)
    for (const auto& c : cs.net.conns)
      if (c.post == cs.net.output)
        for (size_t k = 0; k < c.n_synapses(); k += c.n_post) p[c.weight_offset + k] = 0.0;
  return p;
}

// The batch of step k of epoch e: random spikes; in every epoch's first batch sample 0
// repeats its first spike (the same step and channel twice) and sample 1 has no spike.
SpikeBatch step_batch(const Case& cs, int e, int k) {
  const SpikeBatch r =
      random_batch(cs.net, cs.batch, cs.spikes_per_sample, cs.first_spike_inputs, uint64_t(1000 + 10 * e + k));
  if (k != 0 || r.n_samples < 2) return r;
  SpikeBatch b;
  for (uint32_t q = 0; q < r.n_samples; ++q) {
    for (uint64_t x = r.offsets[q]; x < r.offsets[q + 1] && q != 1; ++x) {
      const int copies = q == 0 && x == r.offsets[q] ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        b.steps.push_back(r.steps[x]);
        b.channels.push_back(r.channels[x]);
      }
    }
    b.offsets.push_back(b.steps.size());
    ++b.n_samples;
  }
  return b;
}

// Appends sample q of `from` to `to`.
void append_sample(const SpikeBatch& from, uint32_t q, SpikeBatch& to) {
  to.steps.insert(to.steps.end(), from.steps.begin() + int64_t(from.offsets[q]), from.steps.begin() + int64_t(from.offsets[q + 1]));
  to.channels.insert(to.channels.end(), from.channels.begin() + int64_t(from.offsets[q]),
                     from.channels.begin() + int64_t(from.offsets[q + 1]));
  to.offsets.push_back(to.steps.size());
  ++to.n_samples;
}

// `epochs` x `batches` training steps through the trainer's step (train/step.hpp), host or
// resident, with the trainer's epoch rhythm: state uploaded at the start of an epoch,
// downloaded at its end, and a host-side change in between (as the silent-hidden bump).
// device_batches (resident): every step's samples form one data set on the device (the
// steps' batches in reverse order, each batch's samples reversed) and each step runs the
// sample indices of its batch, assembled on the device.
TrainRun train_steps(const Case& cs, const ResidentSpec& spec, bool resident, dist::Communicator& comm,
                     GradientReducer* reducer, size_t bucket_bytes, int epochs, int batches,
                     bool device_batches = false) {
  EngineOptions opt;
  opt.backend = "cuda";
  opt.precision = cs.precision;
  auto engine = make_engine(cs.net, opt);
  Adam adam(cs.net, spec.adam);
  TrainRun r;
  r.params = start_params(cs, spec);
  TrainStep step(cs.net, *engine, comm, spec, resident, reducer, bucket_bytes);
  const uint32_t K = cs.net.pops[cs.net.output].size;
  uint32_t hidden = 0;
  while (cs.net.pops[hidden].kind != PopKind::LIF) ++hidden;
  std::vector<std::vector<uint32_t>> samples(size_t(epochs) * batches);  // device_batches: each step's
  if (device_batches) {
    SpikeBatch all;
    for (int t = epochs * batches; t-- > 0;) {
      const SpikeBatch batch = step_batch(cs, t / batches, t % batches);
      samples[t].resize(batch.n_samples);
      for (uint32_t q = batch.n_samples; q-- > 0;) {
        samples[t][q] = all.n_samples;
        append_sample(batch, q, all);
      }
    }
    if (!step.set_dataset(all)) failure("resident training: " + cs.name + ": the data set was not kept on the device");
  }
  for (int e = 0; e < epochs; ++e) {
    step.upload(r.params, adam);
    for (int k = 0; k < batches; ++k) {
      std::vector<int32_t> labels(cs.batch);
      for (uint32_t b = 0; b < cs.batch; ++b) labels[b] = int32_t((b * 7 + uint32_t(e + k)) % K);
      const uint64_t gB = uint64_t(cs.batch) * uint64_t(comm.size());
      const StepSums s = device_batches
                             ? step.run(r.params, adam, samples[size_t(e) * batches + k], labels, gB, 0.01 * (1 + k % 2), 0.5, {})
                             : step.run(r.params, adam, step_batch(cs, e, k), labels, gB, 0.01 * (1 + k % 2), 0.5, {});
      r.sums.insert(r.sums.end(), {s.loss, s.correct, s.samples});
      const uint32_t out = cs.net.output;
      if (cs.net.pops[out].kind == PopKind::LIF)
        for (uint32_t q = 0; q < K; ++q) r.silent_outputs += step.counts()[CountLayout(cs.net).offset[out] + q] == 0;
    }
    step.download(r.params, adam);
    bump_incoming(cs.net, r.params, hidden, uint32_t(e) % cs.net.pops[hidden].size, 0.01, true);
  }
  r.m = adam.m();
  r.v = adam.v();
  return r;
}

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Largest |a - b| over max |a| (0 when bitwise equal).
double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, m = 0;
  for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
    d = std::max(d, std::abs(a[k] - b[k]));
    m = std::max(m, std::abs(a[k]));
  }
  return m > 0 ? d / m : d;
}

// Compares two runs; true when parameters, moments and losses are bitwise equal. On a GPU
// the loss's exp and log are CUDA's (within 1-2 ulp of the host's), so the resident path may
// differ from the host path in the last bits there: then the relative difference must stay
// below 1e-6 (reported); in the emulation, and between two resident runs, it must be bitwise.
bool compare_runs(const std::string& what, const TrainRun& a, const TrainRun& b, bool must_be_bitwise, JObj& j) {
  const bool same = bitwise_equal(a.params, b.params) && bitwise_equal(a.m, b.m) && bitwise_equal(a.v, b.v) &&
                    bitwise_equal(a.sums, b.sums);
  const double dp = rel_diff(a.params, b.params), dm = rel_diff(a.m, b.m), ds = rel_diff(a.sums, b.sums);
  std::printf("  %s: %s (params %.2e, Adam m %.2e, losses %.2e of max)\n", what.c_str(),
              same ? "bitwise equal" : "DIFFER", dp, dm, ds);
  const bool ok = same || (!must_be_bitwise && dp < 1e-6 && ds < 1e-6);
  if (!ok) failure("resident training: " + what + " differ");
  j.set(what, JObj().boolean("bitwise_equal", same).num("params_rel_diff", dp).num("adam_m_rel_diff", dm)
                  .num("loss_rel_diff", ds).boolean("pass", ok).text(4));
  return ok;
}

std::string resident_training() {
  JObj j;
#ifdef DELAYPROP_DEVICE_CHECK_EMULATED
  const bool emulated = true;
#else
  const bool emulated = false;
#endif
  // Adam: the device kernel against core/optimizer.cpp, bitwise, with the delay clamp.
  {
    std::string detail;
    const bool ok = cuda_adam_matches_host(ff2(Readout::SumExp), 11, 200, detail);
    std::printf("  Adam: %s\n", detail.c_str());
    if (!ok) failure("resident training: device Adam: " + detail);
    j.boolean("adam_bitwise_equal", ok).str("adam", detail);
  }
  // The bucket layout.
  {
    const auto b = gradient_buckets(1000, 6 * 8 * 300 + 5);
    bool ok = b.size() == 4;
    size_t at = 0;
    for (const auto& [first, n] : b) {
      ok = ok && first == at && n % 6 == 0 && n <= 6 * 300 && n > 0;
      at += n;
    }
    ok = ok && at == 6000 && gradient_buckets(3, 1).size() == 3 && gradient_buckets(0, 64).empty();
    std::printf("  gradient buckets: %s\n", ok ? "whole parameters, in order, covering the buffer" : "WRONG");
    if (!ok) failure("resident training: gradient_buckets");
    j.boolean("buckets_ok", ok);
  }
  const int epochs = g_small ? 2 : 3, batches = 2;
  std::vector<std::pair<Case, ResidentSpec>> cases;
  {
    Case a = comparison_cases()[0];  // feedforward, sum-exp, float32
    a.name = "ff_sumexp_reg_float32";
    a.batch = g_small ? 3 : 16;
    ResidentSpec sa;
    sa.reg.enabled = true;
    {
      // The target: the median hidden neuron's spikes per sample at the start, so that some
      // neurons get k_up and others k_low.
      EngineOptions o;
      o.backend = "cpu";
      auto cpu = make_engine(a.net, o);
      ForwardOutputs f;
      cpu->forward(init_params(a.net, 31), random_batch(a.net, a.batch, a.spikes_per_sample, false, 1000), f);
      std::vector<uint32_t> c;
      CountLayout(a.net).flatten(f, c);
      std::nth_element(c.begin(), c.begin() + c.size() / 2, c.end());
      sa.reg.nu = (c[c.size() / 2] + 0.5) / double(a.batch);
      std::printf("  regulariser target nu = %.3f spikes per neuron and sample (the median at the start)\n", sa.reg.nu);
    }
    sa.reg.k_up = 1e-3;
    sa.reg.k_low = 5e-3;
    cases.push_back({a, sa});
    Case f;
    f.name = "first_spike_bump_float64";
    f.net = first_spike_net();
    f.batch = g_small ? 3 : 16;
    f.first_spike_inputs = true;
    f.precision = Precision::Float64;
    ResidentSpec sf;
    sf.loss.kind = LossKind::FirstSpike;
    sf.output_bump = 0.05;
    cases.push_back({f, sf});
  }
  for (const auto& [cs, spec] : cases) {
    JObj c;
    auto local = dist::make_local_communicator();
    const TrainRun host = train_steps(cs, spec, false, *local, nullptr, 0, epochs, batches);
    const TrainRun res = train_steps(cs, spec, true, *local, nullptr, 256, epochs, batches);
    const TrainRun res2 = train_steps(cs, spec, true, *local, nullptr, 256, epochs, batches);
    compare_runs(cs.name + ": resident vs host, 1 rank", host, res, emulated, c);
    // What the steps exercised: parameters moved, silent outputs bumped (first-spike case).
    const double moved = rel_diff(start_params(cs, spec), res.params);
    std::printf("  %s: parameters moved by %.2e of max, %u silent (step, output) pairs bumped\n", cs.name.c_str(),
                moved, res.silent_outputs);
    if (!(moved > 0)) failure("resident training: " + cs.name + ": the parameters did not change");
    if (spec.output_bump > 0 && res.silent_outputs == 0) failure("resident training: " + cs.name + ": no output was silent (the bump did not act)");
    c.num("params_moved_rel", moved).num("silent_output_bumps", res.silent_outputs);
    compare_runs(cs.name + ": two resident runs", res, res2, true, c);
    // Batches assembled on the device from the resident data set: the same spikes, so the
    // same bits as the resident path with uploaded batches (on a GPU too) and as the host path.
    const TrainRun resd = train_steps(cs, spec, true, *local, nullptr, 256, epochs, batches, true);
    compare_runs(cs.name + ": resident with device batches vs resident", res, resd, true, c);
    compare_runs(cs.name + ": resident with device batches vs host", host, resd, emulated, c);
    // Two pretend ranks: the host path through the dry-run communicator, the resident path
    // through the stand-in reducer, in buckets of 100 parameters.
    auto dry = dist::make_dryrun_communicator(2, 0);
    const TrainRun host2 = train_steps(cs, spec, false, *dry, nullptr, 0, epochs, batches);
    StandInReducer standin;
    const size_t bucket = 100 * 6 * sizeof(int64_t);
    const TrainRun res2r = train_steps(cs, spec, true, *dry, &standin, bucket, epochs, batches);
    compare_runs(cs.name + ": resident vs host, 2 pretend ranks", host2, res2r, emulated, c);
    // Buckets: every step's calls cover the digit buffer in order, whole parameters each.
    const size_t P = cs.net.n_params, steps = size_t(epochs) * batches;
    bool tiled = standin.buckets.size() == steps * gradient_buckets(P, bucket).size();
    size_t at = 0;
    const int64_t* base = standin.buckets.empty() ? nullptr : standin.buckets[0].first;
    for (const auto& [ptr, n] : standin.buckets) {
      if (at == P * 6) at = 0, base = ptr;
      tiled = tiled && ptr == base + at && n % 6 == 0 && n * sizeof(int64_t) <= bucket;
      at += n;
    }
    tiled = tiled && at == P * 6;
    std::printf("  %s: %zu buckets per step, in place, whole parameters: %s\n", cs.name.c_str(),
                gradient_buckets(P, bucket).size(), tiled ? "yes" : "NO");
    if (!tiled) failure("resident training: " + cs.name + ": the reducer's buckets do not tile the digit buffer");
    c.boolean("buckets_tile_buffer", tiled).num("buckets_per_step", double(gradient_buckets(P, bucket).size()));
#if defined(DELAYPROP_HAVE_NCCL_RUNTIME) && !defined(DELAYPROP_DEVICE_CHECK_EMULATED)
    // NCCL at one rank, in place on the engine's stream.
    std::string why;
    if (dist::nccl_load(&why)) {
      dist::NcclGroup group(dist::nccl_unique_id(), 0, 1, 0, 30.0);
      NcclReducer nccl(group);
      const TrainRun resn = train_steps(cs, spec, true, *local, &nccl, 256, epochs, batches);
      compare_runs(cs.name + ": resident with 1-rank NCCL vs resident", res, resn, true, c);
    } else {
      c.str("nccl", "not loaded: " + why);
    }
#endif
    j.set(cs.name, c.text(2));
  }
  return j.text(2);
}

// ---- (f) compute-sanitizer ------------------------------------------------------------------------

// The small case the sanitizer runs (this binary with --sanitizer-case): feedforward,
// recurrent and mixed wiring, forward and backward, float32 and float64, with a tape that
// must grow and with rings and histories split between shared and global memory.
int sanitizer_case() {
  auto cases = comparison_cases();
  for (int which : {0, 3, 5, 7, 8, 11}) {  // + mixed wiring, shared/global split
    Case cs = cases[size_t(which)];
    cs.batch = 2;
    const auto params = init_params(cs.net, 1234);
    const SpikeBatch batch = random_batch(cs.net, cs.batch, cs.spikes_per_sample, cs.first_spike_inputs, 99);
    BackwardInputs in;
    RunResult r = run_case(cs, "cuda", params, batch, nullptr, &in);
    std::printf("sanitizer case %s: hidden spikes %llu\n", cs.name.c_str(), (unsigned long long)r.out.hidden_spikes);
  }
  std::printf("sanitizer case: done\n");
  return 0;
}

[[maybe_unused]] std::string find_compute_sanitizer() {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs;
  if (const char* p = std::getenv("PATH")) {
    std::stringstream ss(p);
    for (std::string d; std::getline(ss, d, ':');) dirs.push_back(d);
  }
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* v = std::getenv(env)) dirs.push_back(std::string(v) + "/bin"), dirs.push_back(std::string(v) + "/compute-sanitizer");
  dirs.push_back("/usr/local/cuda/bin");
  dirs.push_back("/usr/local/cuda/compute-sanitizer");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/local", ec))
    if (e.path().filename().string().rfind("cuda-", 0) == 0) dirs.push_back(e.path().string() + "/bin");
  for (const auto& d : dirs) {
    const std::string f = d + "/compute-sanitizer";
    if (access(f.c_str(), X_OK) == 0) return f;
  }
  return "";
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

[[maybe_unused]] std::string sanitizer_check(double seconds) {
  JObj j;
  const std::string tool = find_compute_sanitizer();
  if (tool.empty()) {
    std::printf("  compute-sanitizer: not available (not on PATH, CUDA_HOME or /usr/local/cuda*)\n");
    j.boolean("available", false);
    return j.text(2);
  }
  j.boolean("available", true).str("tool", tool);
  const std::string self = self_path();
  const std::string log_dir = std::filesystem::path(g_json_path).parent_path().string();
  for (const char* which : {"memcheck", "racecheck"}) {
    JObj r;
    const int limit = int(std::max(10.0, std::min(75.0, seconds / 2)));
    const std::string log = (log_dir.empty() ? std::string(".") : log_dir) + "/sanitizer_" + which + ".log";
    const std::string cmd = "timeout -k 5 " + std::to_string(limit) + " '" + tool + "' --tool " + which +
                            " --error-exitcode 9 --print-limit 20 '" + self + "' --sanitizer-case > '" + log +
                            "' 2>&1";
    const auto t0 = Clock::now();
    const int status = std::system(cmd.c_str());
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    std::ifstream is(log);
    std::string line, summary, tail;
    std::vector<std::string> lines;
    bool done = false;
    while (std::getline(is, line)) {
      if (line.find("SUMMARY") != std::string::npos) summary = line;
      if (line.find("sanitizer case: done") != std::string::npos) done = true;
      lines.push_back(line);
    }
    for (size_t k = lines.size() > 25 ? lines.size() - 25 : 0; k < lines.size(); ++k) tail += lines[k] + "\n";
    const bool timed_out = rc == 124 || rc == 137;
    const size_t z = summary.find("0 errors");
    const bool zero = z != std::string::npos && (z == 0 || !std::isdigit(static_cast<unsigned char>(summary[z - 1])));
    const bool clean = rc == 0 && done && zero;
    std::printf("  %s: %s (exit %d, %.0f s) %s\n", which, clean ? "clean" : timed_out ? "TIMED OUT" : "ERRORS", rc,
                ms_since(t0) / 1000, summary.c_str());
    if (!clean && !timed_out) failure(std::string("compute-sanitizer ") + which + ": " + summary + " (exit " + std::to_string(rc) + ")");
    r.num("exit_code", rc).str("summary", summary).boolean("clean", clean).boolean("timed_out", timed_out);
    r.num("seconds", ms_since(t0) / 1000).num("limit_s", limit);
    if (!clean) r.str("log_tail", tail);
    j.set(which, r.text(4));
  }
  return j.text(2);
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

// The SHD-shaped workloads of delayprop-bench (src/bench/workload.hpp): shd-ff is 700 -> 256
// -> 256 -> 20 feedforward, shd-rec 700 -> 256 recurrent -> 20; 1000 steps, 10,000 uniform
// random input spikes per sample, the hidden layers' input weights calibrated on the CPU
// backend for about 14 spikes per neuron and trial.
struct BenchCase {
  Network net;
  SpikeBatch batch;
};

BenchCase shd_case(const std::string& workload, int max_delay, uint32_t B) {
  bench::Opts o;
  o.workload = workload;
  const bench::Shape s = bench::shape_of(o);
  std::vector<int32_t> labels;
  const SpikeBatch cal = bench::make_input(s, 2, 1001, labels);
  EngineOptions eo;
  eo.threads = cpu_threads();
  const std::vector<double> w_mean = bench::calibrate(s, 256, max_delay, 14.0, eo, cal, 1);
  return {bench::build_net(s, 256, max_delay, w_mean), bench::make_input(s, B, 1, labels)};
}

#if defined(DELAYPROP_HAVE_NCCL_RUNTIME) && !defined(DELAYPROP_DEVICE_CHECK_EMULATED)
// One 1-rank NCCL group for the benchmark rows (null when NCCL cannot be loaded).
dist::NcclGroup* bench_nccl() {
  static std::unique_ptr<dist::NcclGroup> group;
  if (!group && dist::nccl_load(nullptr)) group = std::make_unique<dist::NcclGroup>(dist::nccl_unique_id(), 0, 1, 0, 30.0);
  return group.get();
}

#endif

struct BenchRow {
  std::string workload;
  int max_delay = 0, reps = 0;
  size_t n_params = 0;
  double fwd_ms = 0, bwd_ms = 0, fwd_gpu_ms = 0, bwd_gpu_ms = 0, first_ms = 0, mem_mib = 0, engine_mib = 0, rate_h1 = 0, rate_h2 = 0;
  double prep_ms = 0, out_ms = 0;  // host preparation and downloads, forward + backward
  double allreduce_ms = -1;        // the gradient's exact sums through a 1-rank NCCL all-reduce (-1: no NCCL)
  // The device-resident step (fastest of the repetitions): host preparation (inputs), forward,
  // loss + kicks + backward, the in-place bucketed 1-rank NCCL all-reduce (-1: no NCCL), the
  // optimiser (rounding, Adam, clamp).
  double res_prep_ms = -1, res_fwd_ms = -1, res_bwd_ms = -1, res_allreduce_ms = -1, res_update_ms = -1;
  // The same step with the batch assembled on the device from the resident data set (the
  // trainer's path without augmentation): host preparation (sample indices; labels, counts
  // and the loss kernels) and forward.
  double res_dev_prep_ms = -1, res_dev_fwd_ms = -1;
};

// Times the resident step of the engine (the trainer's path for engine.backend = "cuda").
void time_resident(Engine& engine, const Network& net, const std::vector<double>& params, const SpikeBatch& batch,
                   const std::vector<int32_t>& labels, int reps, BenchRow& row) {
  ResidentTraining* res = engine.resident();
  if (!res) return;
  res->configure(ResidentSpec{});
  const std::vector<double> zeros(net.n_params, 0.0);
  res->set_state(params, zeros, zeros);
  const CountLayout layout(net);
  std::vector<uint32_t> counts(layout.total, 0);
  Adam adam(net);
  ForwardOutputs out;
  double prep = 1e300, fwd = 1e300, bwd = 1e300, ar = 1e300, upd = 1e300;
  for (int r = 0; r <= reps; ++r) {  // the first is a warm-up
    auto t0 = Clock::now();
    res->forward(batch, out);
    const double f = ms_since(t0);
    layout.flatten(out, counts);
    t0 = Clock::now();
    res->backward(labels, labels.size(), counts);
    const double b = ms_since(t0);
    double a = -1;
#if defined(DELAYPROP_HAVE_NCCL_RUNTIME) && !defined(DELAYPROP_DEVICE_CHECK_EMULATED)
    if (dist::NcclGroup* g = bench_nccl()) {
      NcclReducer reducer(*g);  // the resident path's all-reduce, as section g
      t0 = Clock::now();
      res->reduce_gradient(reducer, size_t(32) << 20);
      a = ms_since(t0);
    }
#endif
    const auto [c1, c2] = adam.advance();
    t0 = Clock::now();
    res->update(c1, c2, 1e-3, 0.1, counts);
    const double u = ms_since(t0);
    CudaProfile prof;
    cuda_engine_profile(engine, prof);
    if (r == 0 && reps > 0) continue;
    // Wall times less the host preparation (inputs; labels, counts and the loss kernels),
    // which is reported on its own.
    prep = std::min(prep, prof.fwd_prep_ms + prof.bwd_prep_ms);
    fwd = std::min(fwd, f - prof.fwd_prep_ms);
    bwd = std::min(bwd, b - prof.bwd_prep_ms);
    ar = std::min(ar, a);
    upd = std::min(upd, u);
  }
  // With the batch on the device (the data set: this batch's samples).
  if (res->set_dataset(batch)) {
    std::vector<uint32_t> samples(batch.n_samples);
    std::iota(samples.begin(), samples.end(), 0u);
    double dprep = 1e300, dfwd = 1e300;
    for (int r = 0; r <= reps; ++r) {
      auto t0 = Clock::now();
      res->forward(samples, out);
      const double f = ms_since(t0);
      layout.flatten(out, counts);
      res->backward(labels, labels.size(), counts);
      CudaProfile prof;
      cuda_engine_profile(engine, prof);
      if (r == 0 && reps > 0) continue;
      dprep = std::min(dprep, prof.fwd_prep_ms + prof.bwd_prep_ms);
      dfwd = std::min(dfwd, f - prof.fwd_prep_ms);
    }
    row.res_dev_prep_ms = dprep;
    row.res_dev_fwd_ms = dfwd;
  }
  row.res_prep_ms = prep;
  row.res_fwd_ms = fwd;
  row.res_bwd_ms = bwd;
  row.res_allreduce_ms = ar;
  row.res_update_ms = upd;
}

double rate(const ForwardOutputs& o, uint32_t p, uint32_t B) {
  if (p >= o.spike_counts.size() || o.spike_counts[p].empty()) return 0.0;
  uint64_t s = 0;
  for (uint32_t v : o.spike_counts[p]) s += v;
  return double(s) / (double(B) * o.spike_counts[p].size());
}


// The all-reduce of one batch's gradient as the host path does it: the exact sums (6 int64
// digits per parameter) host -> device -> 1-rank all-reduce -> host; the fastest of 3.
// -1 when NCCL is not loaded (or in the CPU emulation).
double time_allreduce(size_t n_params) {
#if defined(DELAYPROP_HAVE_NCCL_RUNTIME) && !defined(DELAYPROP_DEVICE_CHECK_EMULATED)
  dist::NcclGroup* group = bench_nccl();
  if (!group) return -1;
  std::vector<uint64_t> digits(n_params * 6, 1);
  double best = 1e300;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    group->allreduce_host(digits.data(), digits.size(), dist::NcclType::u64);
    best = std::min(best, ms_since(t0));
  }
  return best;
#else
  (void)n_params;
  return -1;
#endif
}

BenchRow bench_one(const std::string& workload, int max_delay, const std::string& backend, uint32_t B, int reps,
                   double reserve_s = 0) {
  const BenchCase bc = shd_case(workload, max_delay, B);
  const Network& net = bc.net;
  const SpikeBatch& batch = bc.batch;
  const auto params = init_params(net, 2024);
  BenchRow row;
  row.workload = workload;
  row.max_delay = max_delay;
  row.n_params = net.n_params;
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
  // Fewer repetitions when the time budget (less what later sections need) is short.
  // Each repetition times the host path and the resident step (plus its warm-up).
  while (reps > 0 && row.first_ms * (2 * reps + 1) / 1000 > seconds_left() - reserve_s) --reps;
  row.reps = reps;
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
    row.prep_ms = prof.fwd_prep_ms + prof.bwd_prep_ms;
    row.out_ms = prof.fwd_out_ms + prof.bwd_out_ms;
    std::printf("  max delay %4d: host prep fwd %.1f ms bwd %.1f ms, device fwd %.1f ms bwd %.1f ms, downloads "
                "fwd %.1f ms bwd %.1f ms, tape %u/sample, backward in %u launch(es)\n",
                max_delay, prof.fwd_prep_ms, prof.bwd_prep_ms, prof.fwd_gpu_ms, prof.bwd_gpu_ms, prof.fwd_out_ms,
                prof.bwd_out_ms, prof.tape_capacity, prof.bwd_chunks);
  }
  if (backend == "cuda") {
    row.allreduce_ms = time_allreduce(net.n_params);
    time_resident(*engine, net, params, batch, labels, reps, row);
    std::printf("  max delay %4d, resident step: host prep %.1f ms, forward %.1f ms, loss + backward %.1f ms, "
                "all-reduce in place %.2f ms, optimiser %.2f ms\n",
                max_delay, row.res_prep_ms, row.res_fwd_ms, row.res_bwd_ms, row.res_allreduce_ms, row.res_update_ms);
    std::printf("  max delay %4d, resident step, batch assembled on the device: host prep %.2f ms, forward %.1f ms\n",
                max_delay, row.res_dev_prep_ms, row.res_dev_fwd_ms);
  }
  return row;
}

// One SHD epoch: 8156 samples in batches of 256 (the last one full-sized here).
constexpr double kEpochBatches = 8156.0 / 256;

std::string bench_json(const BenchRow& r) {
  JObj j;
  const double allreduce = std::max(0.0, r.allreduce_ms);
  j.str("workload", r.workload).num("max_delay_steps", r.max_delay).num("parameters", double(r.n_params));
  j.num("forward_ms", r.fwd_ms).num("backward_ms", r.bwd_ms);
  j.num("device_forward_ms", r.fwd_gpu_ms).num("device_backward_ms", r.bwd_gpu_ms).num("first_batch_ms", r.first_ms);
  j.num("host_prep_ms", r.prep_ms).num("downloads_ms", r.out_ms).num("allreduce_ms", r.allreduce_ms);
  j.num("repetitions", r.reps).num("batch_ms", r.fwd_ms + r.bwd_ms + allreduce);
  // The epoch split: host preparation, device forward, device backward, downloads, all-reduce.
  j.set("epoch_split_s", JObj()
                             .num("host_prep", r.prep_ms * kEpochBatches / 1000)
                             .num("forward", r.fwd_gpu_ms * kEpochBatches / 1000)
                             .num("backward", r.bwd_gpu_ms * kEpochBatches / 1000)
                             .num("downloads", r.out_ms * kEpochBatches / 1000)
                             .num("allreduce", allreduce * kEpochBatches / 1000)
                             .text(6));
  j.num("epoch_s", (r.fwd_ms + r.bwd_ms + allreduce) * kEpochBatches / 1000);
  j.num("samples_per_s", 256.0 * 1000 / std::max(1e-9, r.fwd_ms + r.bwd_ms + allreduce));
  if (r.res_fwd_ms >= 0) {
    // The device-resident step, as the trainer runs it for engine.backend = "cuda".
    const double res_batch = r.res_fwd_ms + r.res_bwd_ms + std::max(0.0, r.res_allreduce_ms) + r.res_update_ms;
    j.set("resident", JObj()
                          .num("host_prep_ms", r.res_prep_ms)
                          .num("forward_ms", r.res_fwd_ms)
                          .num("backward_ms", r.res_bwd_ms)
                          .num("allreduce_ms", r.res_allreduce_ms)
                          .num("optimiser_ms", r.res_update_ms)
                          .num("batch_ms", res_batch)
                          .set("epoch_split_s", JObj()
                                                    .num("host_prep", r.res_prep_ms * kEpochBatches / 1000)
                                                    .num("forward", r.res_fwd_ms * kEpochBatches / 1000)
                                                    .num("backward", r.res_bwd_ms * kEpochBatches / 1000)
                                                    .num("allreduce", std::max(0.0, r.res_allreduce_ms) * kEpochBatches / 1000)
                                                    .num("optimiser", r.res_update_ms * kEpochBatches / 1000)
                                                    .text(8))
                          .num("epoch_s", res_batch * kEpochBatches / 1000)
                          .num("samples_per_s", 256.0 * 1000 / std::max(1e-9, res_batch))
                          .num("device_batches_host_prep_ms", r.res_dev_prep_ms)
                          .num("device_batches_forward_ms", r.res_dev_fwd_ms)
                          .text(6));
  }
  j.num("gpu_memory_mib", r.mem_mib).num("engine_memory_mib", r.engine_mib);
  j.num("h1_spikes_per_neuron", r.rate_h1).num("h2_spikes_per_neuron", r.rate_h2);
  return j.text(4);
}

int run_cpu_only(bool skip_bench) {
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
    const BenchRow r = bench_one("shd-ff", 64, "cpu", 4, 1);
    std::printf("bench net (cpu, B=4, delay 64): h1 %.2f h2 %.2f spikes/neuron, fwd %.0f ms, bwd %.0f ms\n", r.rate_h1,
                r.rate_h2, r.fwd_ms, r.bwd_ms);
  }
  return 0;
}

// SKIP only when no NVIDIA device exists; on a machine with one, every CUDA error fails.
// Returns the device count (0: skip).
int probe_device() {
  const CudaProbe probe = cuda_probe();
  const std::string evidence = nvidia_device_evidence();
  JObj j;
  j.num("cuda_device_count", probe.count).str("cuda_error", probe.error).str("nvidia_device_evidence", evidence);
  j.num("driver_cuda_version", probe.driver_version).num("runtime_cuda_version", probe.runtime_version);
  g_json.set("probe", j.text(2));
  if (probe.count > 0) return probe.count;
  if (evidence.empty()) {
    std::printf("SKIP: no NVIDIA device (%s)\n", probe.error.empty() ? "the CUDA runtime sees none" : probe.error.c_str());
    write_json("skip");
    return 0;
  }
  fail("this machine has an NVIDIA device (", evidence, ") but the CUDA runtime cannot use it: ",
       probe.error.empty() ? std::string("cudaGetDeviceCount returned 0 devices") : probe.error);
}

}  // namespace

int main(int argc, char** argv) {
  bool skip_bench = false, cpu_only = false, no_sanitizer = false;
  std::string sections = "abcdefg";
  int reps = 3;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    if (s == "--skip-bench") skip_bench = true;
    else if (s == "--cpu-only") cpu_only = true;
    else if (s == "--small") g_small = true;
    else if (s == "--no-sanitizer") no_sanitizer = true;
    else if (s == "--json" && a + 1 < argc) g_json_path = argv[++a];
    else if (s == "--sections" && a + 1 < argc) sections = argv[++a];
    else if (s == "--budget-s" && a + 1 < argc) g_budget_s = std::max(10.0, std::atof(argv[++a]));
    else if (s == "--bench-reps" && a + 1 < argc) reps = std::max(1, std::atoi(argv[++a]));
    else if (s == "--sanitizer-case") {
      try {
        return sanitizer_case();
      } catch (const std::exception& e) {
        std::printf("ERROR: %s\n", e.what());
        return 1;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--json FILE] [--skip-bench] [--cpu-only] [--small] [--bench-reps N] [--budget-s S] "
                   "[--no-sanitizer] [--sections abcdefg]\n",
                   argv[0]);
      return 2;
    }
  }
  if (cpu_only) {
    try {
      return run_cpu_only(skip_bench);
    } catch (const std::exception& e) {
      std::printf("ERROR: %s\n", e.what());
      return 1;
    }
  }
  g_json.str("check", "delayprop device check").str("status", "running");
#ifdef DELAYPROP_DEVICE_CHECK_EMULATED
  g_json.boolean("emulated", true);
#else
  g_json.boolean("emulated", false);
#endif
  g_json.num("budget_s", g_budget_s).str("sections", sections);
  auto want = [&](char c) { return sections.find(c) != std::string::npos; };
  if (!want('d')) skip_bench = true;
  if (!want('f')) no_sanitizer = true;
  std::string device;
  bool ok_a = !want('a'), ok_b = !want('b'), ok_c = !want('c'), ok_g = !want('g');
  int seq_cpu = 0, seq_gpu = 0;
  std::vector<BenchRow> rows;
  size_t n_cases = 0;
  try {
    const int ndev = probe_device();
    if (ndev == 0) return 0;
    device = cuda_device_description(0);
    std::printf("device 0: %s (%d visible)\n", device.c_str(), ndev);
    g_json.str("device", device).num("devices_visible", ndev);
    write_json("running");

    if (want('a')) {
    std::printf("(a) CPU vs GPU: spikes and readouts identical; gradients within 1e-5 (float32) or 1e-12 "
                "(float64) of each group's max|cpu|\n");
    const auto cases = comparison_cases();
    n_cases = cases.size();
    const size_t fails_before_a = g_failures.size();
    std::vector<std::string> case_json;
    for (const auto& cs : cases) {
      case_json.push_back(compare_case(cs));
      g_json.set("agreement", "[\n    " + [&] {
        std::string o;
        for (size_t i = 0; i < case_json.size(); ++i) o += (i ? ",\n    " : "") + case_json[i];
        return o;
      }() + "]");
      write_json("running");
    }
    ok_a = g_failures.size() == fails_before_a;
    }

    if (want('b')) {
    std::printf("(b) determinism\n");
    const size_t fails_before_b = g_failures.size();
    g_json.set("determinism", determinism());
    ok_b = g_failures.size() == fails_before_b;
    write_json("running");
    }

    if (want('c')) {
    std::printf("(c) sequence task\n");
    seq_cpu = sequence_task("cpu");
    seq_gpu = sequence_task("cuda");
    std::printf("  presentations of each example until 100 %%: cpu %d, gpu %d (0 = not learned in 20)\n", seq_cpu,
                seq_gpu);
    ok_c = seq_cpu >= 1 && seq_cpu <= 6 && seq_gpu >= 1 && seq_gpu <= 6;
    if (!ok_c) failure("sequence task not learned within 6 presentations");
    g_json.set("sequence_task", JObj().num("cpu_presentations", seq_cpu).num("gpu_presentations", seq_gpu).boolean("pass", ok_c).text(2));
    write_json("running");
    }

    if (want('g')) {
      std::printf("(g) device-resident training: the trainer's step on the device against the host step\n");
      const size_t fails_before_g = g_failures.size();
      g_json.set("resident_training", resident_training());
      ok_g = g_failures.size() == fails_before_g;
      write_json("running");
    }

    if (want('e')) {
      std::printf("(e) NCCL\n");
      g_json.set("nccl", nccl_check());
      write_json("running");
    }

#ifndef DELAYPROP_DEVICE_CHECK_EMULATED
    const bool sanitize = !no_sanitizer && !find_compute_sanitizer().empty();
#else
    const bool sanitize = false;
#endif
    if (!skip_bench) {
      // --small (the CPU emulation): 2 samples, one repetition, max delay 64 only.
      const uint32_t B = g_small ? 2 : 256;
      std::printf("(d) benchmark: shd-ff 700 -> 256 -> 256 -> 20 and shd-rec 700 -> 256 recurrent -> 20, batch %u, "
                  "1000 steps of 1 ms, 10,000 input spikes\n", B);
      const double reserve = sanitize ? 70.0 : 5.0;  // what the sanitizer runs need afterwards
      std::vector<std::string> bench_rows;
      for (const std::string workload : {"shd-ff", "shd-rec"}) {
        for (int d : {64, 256, 1024}) {
          if (g_small && d != 64) continue;
          if (seconds_left() - reserve < 10) {
            std::printf("  %s max delay %4d: skipped (time budget)\n", workload.c_str(), d);
            bench_rows.push_back(
                JObj().str("workload", workload).num("max_delay_steps", d).str("skipped", "time budget").text(4));
            continue;
          }
          rows.push_back(bench_one(workload, d, "cuda", B, g_small ? 1 : reps, reserve));
          const auto& r = rows.back();
          std::printf("  %s max delay %4d: fwd %.1f ms, bwd %.1f ms, all-reduce %.1f ms (first batch %.1f ms, %d "
                      "reps), GPU memory %.0f MiB (engine %.0f MiB), hidden %.2f %.2f spikes/neuron\n",
                      workload.c_str(), d, r.fwd_ms, r.bwd_ms, r.allreduce_ms, r.first_ms, r.reps, r.mem_mib,
                      r.engine_mib, r.rate_h1, r.rate_h2);
          bench_rows.push_back(bench_json(r));
          g_json.set("benchmark", JObj()
                                      .str("network", "shd-ff: 700 -> 256 -> 256 -> 20 feedforward; shd-rec: 700 -> "
                                                      "256 recurrent -> 20; sum-exp readout")
                                      .num("batch", B)
                                      .num("steps", 1000)
                                      .num("input_spikes_per_sample", 10000)
                                      .num("shd_epoch_samples", 8156)
                                      .set("rows", json_array(bench_rows))
                                      .text(2));
          write_json("running");
        }
      }
    }

    if (want('f')) std::printf("(f) compute-sanitizer\n");
    if (!want('f')) {
    } else if (no_sanitizer) g_json.set("sanitizer", JObj().boolean("available", false).str("reason", "--no-sanitizer").text(2));
#ifdef DELAYPROP_DEVICE_CHECK_EMULATED
    else g_json.set("sanitizer", JObj().boolean("available", false).str("reason", "CPU emulation").text(2));
#else
    else g_json.set("sanitizer", sanitizer_check(std::max(20.0, seconds_left() - 2)));
#endif
  } catch (const std::exception& e) {
    // Any error on a machine with an NVIDIA device (CUDA errors included) is a failure.
    std::printf("ERROR: %s\n", e.what());
    failure(std::string("error: ") + e.what());
  }

  std::printf("\n==================== DEVICE CHECK SUMMARY ====================\n");
  std::printf("device: %s\n", device.c_str());
  auto verdict = [&](char c, bool ok) { return !want(c) ? "not run" : ok ? "PASS" : "FAIL"; };
  std::printf("(a) cpu vs gpu, %zu cases ........ %s\n", n_cases, verdict('a', ok_a));
  std::printf("(b) determinism ................. %s\n", verdict('b', ok_b));
  std::printf("(c) sequence task (<= 6) ........ %s (cpu %d, gpu %d presentations)\n", verdict('c', ok_c), seq_cpu,
              seq_gpu);
  std::printf("(g) resident training ........... %s\n", verdict('g', ok_g));
  if (!rows.empty()) {
    std::printf("(d) benchmark (batch %u, 1000 steps; SHD epoch = 8156 samples = %.2f batches)\n",
                g_small ? 2u : 256u, kEpochBatches);
    std::printf("    (wall = engine calls incl. host work; dev = device part only; all-reduce -1: no NCCL)\n");
    std::printf("    workload  max_delay  fwd_ms  bwd_ms  dev_fwd  dev_bwd  allred  epoch_s  gpu_MiB  rate_1  rate_2\n");
    for (const auto& r : rows) {
      const double batch_ms = r.fwd_ms + r.bwd_ms + std::max(0.0, r.allreduce_ms);
      std::printf("    %-8s  %9d  %6.1f  %6.1f  %7.1f  %7.1f  %6.1f  %7.2f  %7.0f  %6.2f  %6.2f\n", r.workload.c_str(),
                  r.max_delay, r.fwd_ms, r.bwd_ms, r.fwd_gpu_ms, r.bwd_gpu_ms, r.allreduce_ms,
                  batch_ms * kEpochBatches / 1000, r.mem_mib, r.rate_h1, r.rate_h2);
    }
    // Flatness in the max delay, per workload: time(1024) / time(64).
    for (const auto& a : rows)
      for (const auto& b : rows)
        if (a.workload == b.workload && a.max_delay == 64 && b.max_delay == 1024)
          std::printf("    %s time ratio max_delay 1024 / 64: %.2f\n", a.workload.c_str(),
                      (b.fwd_ms + b.bwd_ms) / (a.fwd_ms + a.bwd_ms));
  }
  for (const auto& f : g_failures) std::printf("failure: %s\n", f.c_str());
  const bool pass = g_failures.empty();
  std::printf("overall: %s (%.0f s; results in %s)\n", pass ? "PASS" : "FAIL", ms_since(g_start) / 1000,
              g_json_path.c_str());
  std::printf("==============================================================\n");
  write_json(pass ? "pass" : "fail");
  return pass ? 0 : 1;
}
