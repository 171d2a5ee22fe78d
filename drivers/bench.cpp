// delayprop-bench: speed and memory of the engine on synthetic workloads shaped like the
// paper's tasks (src/bench/workload.hpp). Per configuration it prints one JSON line (also
// appended to --json FILE) and, at the end, a Markdown table. --bare also runs the minimal
// single-core loop of src/bench/bare_loop.hpp on the same network and input, the per-core
// bound the engine is measured against.
#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/run.hpp"
#include "cli.hpp"
#include "core/error.hpp"
#include "core/model_math.hpp"

using namespace delayprop;
using json = nlohmann::json;

namespace {

const Cli kCli(
    "delayprop-bench",
    "usage: delayprop-bench [--workload shd-ff|shd-rec|braille|yinyang] [--hidden H[,H..]]\n"
    "                       [--max-delay STEPS[,..]] [--threads T[,..]] [--batch B[,..]] [--samples N]\n"
    "                       [--repeat R] [--backend cpu|cuda] [--precision float32|float64]\n"
    "                       [--input-spikes N] [--channels C] [--outputs K] [--dt MS] [--steps N]\n"
    "                       [--target-rate SPIKES_PER_NEURON]\n"
    "                       [--seed S] [--simd off|auto|avx2|avx512[,..]] [--bare] [--no-table]\n"
    "                       [--json FILE]\n"
    "Lists (comma separated) run every combination in this process; peak RSS is then the\n"
    "process's peak so far: run one configuration per process for memory figures.\n",
    {{"workload", "shd-ff|shd-rec|braille|yinyang", "the synthetic workload (docs/BENCHMARKS.md)", "shd-rec"},
     {"hidden", "H[,H..]", "hidden neurons per layer", "256; 30 for yinyang"},
     {"max-delay", "STEPS[,..]", "max delay of every connection, in steps", "64; 1000 for yinyang"},
     {"threads", "T[,..]", "CPU backend threads", "1"},
     {"batch", "B[,..]", "samples per engine call", "--samples"},
     {"samples", "N", "samples timed per repeat", "32"},
     {"repeat", "R", "repeats; the best is reported", "3"},
     {"backend", "cpu|cuda", "the engine backend", "cpu"},
     {"precision", "float32|float64", "the engine's arithmetic", "float32"},
     {"input-spikes", "N", "input spikes per sample", "the workload's: 10000 SHD, 300 braille, 4 yinyang"},
     {"channels", "C", "input channels", "the workload's: 700 SHD, 24 braille, 4 yinyang"},
     {"outputs", "K", "output neurons", "the workload's: 20 SHD, 27 braille, 3 yinyang"},
     {"dt", "MS", "time step in ms", "the workload's: 1, 0.005 for yinyang"},
     {"steps", "N", "time steps per trial", "the workload's: 1000 SHD, 1900 braille, 6000 yinyang"},
     {"target-rate", "SPIKES_PER_NEURON", "hidden spikes per neuron and sample the weights are calibrated to",
      "14; 2 for yinyang"},
     {"seed", "S", "seed of the input, labels and parameters", "1"},
     {"simd", "off|auto|scalar|avx2|avx512[,..]",
      "the CPU backend's synapse kernels (off = scalar); a list measures each; the bare loop is always scalar",
      "auto, the best of this CPU"},
     {"bare", "", "also run the bare loop (shd-rec only)", "off"},
     {"no-table", "", "no Markdown table at the end", "off"},
     {"json", "FILE", "also append the JSON lines to FILE", "none"}});

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

// One JSON line per configuration.
json to_json(const bench::Opts& o, const bench::Shape& s, const bench::Result& r) {
  const double N = o.samples;
  const bench::Timing& e = r.engine;
  json j;
  j["workload"] = o.workload;
  j["backend"] = o.backend;
  j["precision"] = o.precision == Precision::Float32 ? "float32" : "float64";
  j["channels"] = s.channels;
  j["hidden"] = r.hidden;
  j["hidden_layers"] = s.hidden_layers;
  j["recurrent"] = s.recurrent;
  j["outputs"] = s.outputs;
  j["steps"] = s.steps;
  j["dt_ms"] = s.dt;
  j["max_delay"] = r.max_delay;
  j["ring_slots"] = ring_slots_for(uint32_t(r.max_delay) + 1);
  j["threads"] = r.threads;
  j["simd"] = r.simd;
  if (!r.simd_kernels.empty()) j["simd_kernels"] = r.simd_kernels;
  j["batch"] = r.batch;
  j["samples"] = o.samples;
  j["repeat"] = o.repeat;
  j["n_params"] = r.n_params;
  j["input_spikes_per_sample"] = double(r.input_spikes) / N;
  j["hidden_spikes_per_sample"] = double(r.hidden_spikes) / N;
  j["spikes_per_hidden_neuron"] = r.spikes_per_hidden_neuron;
  j["calib_w_mean"] = r.calib_w_mean;
  j["target_rate"] = r.target_rate;
  j["calib_s"] = r.calib_s;
  j["events_per_sample"] = double(r.events) / N;
  j["fwd_us_per_sample"] = e.fwd / N * 1e6;
  j["bwd_us_per_sample"] = e.bwd / N * 1e6;
  j["fwd_us_per_sample_mean"] = r.fwd_sum / o.repeat / N * 1e6;
  j["bwd_us_per_sample_mean"] = r.bwd_sum / o.repeat / N * 1e6;
  j["bwd_fwd_ratio"] = e.bwd / e.fwd;
  j["samples_per_s"] = N / (e.fwd + e.bwd);
  j["samples_per_s_mean"] = N / ((r.fwd_sum + r.bwd_sum) / o.repeat);
  j["fwd_cpu_us_per_sample"] = e.cpu_fwd / N * 1e6;
  j["bwd_cpu_us_per_sample"] = e.cpu_bwd / N * 1e6;
  j["samples_per_cpu_s"] = N / (e.cpu_fwd + e.cpu_bwd);
  j["cpu_per_wall"] = (e.cpu_fwd + e.cpu_bwd) / (e.fwd + e.bwd);
  j["ns_per_event_fwd"] = r.events ? e.fwd / double(r.events) * 1e9 : 0.0;
  j["ns_per_event_bwd"] = r.events ? e.bwd / double(r.events) * 1e9 : 0.0;
  j["engine_mib"] = r.engine_mib;
  j["grad_hash"] = r.grad_hash;
  j["peak_rss_mib"] = r.peak_rss_mib;
  if (r.loadavg_1min >= 0) j["loadavg_1min"] = r.loadavg_1min;
  if (!r.has_bare) return j;
  const bench::Timing& b = r.bare;
  j["bare_fwd_us_per_sample"] = b.fwd / N * 1e6;
  j["bare_bwd_us_per_sample"] = b.bwd / N * 1e6;
  j["bare_samples_per_s"] = N / (b.fwd + b.bwd);
  j["bare_fwd_cpu_us_per_sample"] = b.cpu_fwd / N * 1e6;
  j["bare_bwd_cpu_us_per_sample"] = b.cpu_bwd / N * 1e6;
  j["bare_samples_per_cpu_s"] = N / (b.cpu_fwd + b.cpu_bwd);
  j["bare_ns_per_event_fwd"] = b.fwd / double(r.events) * 1e9;
  j["bare_ns_per_event_bwd"] = b.bwd / double(r.events) * 1e9;
  j["bare_hidden_spikes_per_sample"] = double(r.bare_hidden_spikes) / N;
  j["bare_grad_rel_diff"] = r.bare_grad_rel_diff;
  // Ours per core as a share of the one-core bound.
  j["pct_of_bare_per_core"] = 100.0 * double(j["samples_per_s"]) / (r.threads * double(j["bare_samples_per_s"]));
  // The same in CPU time (robust to other jobs; equals the above on an idle machine at 1 thread).
  j["pct_of_bare_cpu"] = 100.0 * double(j["samples_per_cpu_s"]) / double(j["bare_samples_per_cpu_s"]);
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
    Args args(argc, argv, kCli);
    if (print_help_or_version(args, kCli)) return 0;
    bench::Opts o;
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
    o.dt = args.get_double("dt", o.dt);
    o.target_rate = args.get_double("target-rate", o.target_rate);
    if (o.samples < 1 || o.repeat < 1) throw UsageError("--samples and --repeat must be >= 1");
    const bench::Shape s = bench::shape_of(o);
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
              json j = to_json(o, s,
                               bench::run_config(o, s, uint32_t(h), int32_t(d), int(t),
                                                 uint32_t(std::min<long long>(b, o.samples)), simd));
              std::cout << j.dump() << std::endl;
              if (jf) jf << j.dump() << "\n" << std::flush;
              rows.push_back(std::move(j));
            }
    if (!args.has("no-table")) print_table(rows);
    return 0;
  });
}
