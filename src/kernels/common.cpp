#include "kernels/common.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>

#include "core/error.hpp"
#include "core/model_math.hpp"

namespace delayprop {

void check_backward_inputs(const Network& net, uint32_t n_samples, const BackwardInputs& in) {
  const size_t K = net.pops[net.output].size;
  require(in.output_grad.size() == size_t(n_samples) * K, "backward: output_grad has ", in.output_grad.size(),
          " values, expected ", size_t(n_samples) * K);
  require(in.spike_kick.empty() || in.spike_kick.size() == net.pops.size(),
          "backward: spike_kick must have one entry per population");
  for (size_t p = 0; p < in.spike_kick.size(); ++p)
    require(in.spike_kick[p].empty() || in.spike_kick[p].size() == net.pops[p].size,
            "backward: spike_kick of population '", net.pops[p].name, "' has the wrong size");
}

template <typename Real>
SumExpTables<Real> make_sumexp_tables(const Network& net) {
  SumExpTables<Real> t;
  const double T = net.trial_ms();
  t.weight.resize(net.n_steps);
  t.density.resize(net.n_steps);
  for (uint32_t n = 0; n < net.n_steps; ++n) {
    const double e = std::exp(-(n * net.dt) / T);
    t.weight[n] = Real(e / net.n_steps);
    t.density[n] = Real(e / T);
  }
  return t;
}
template SumExpTables<float> make_sumexp_tables<float>(const Network&);
template SumExpTables<double> make_sumexp_tables<double>(const Network&);

std::vector<InputNeuron> input_channel_map(const Network& net) {
  std::vector<InputNeuron> map(net.n_input_channels);
  for (uint32_t p = 0; p < net.pops.size(); ++p)
    if (net.pops[p].kind == PopKind::Input)
      for (uint32_t i = 0; i < net.pops[p].size; ++i) map[net.input_channel_offset[p] + i] = {p, i};
  return map;
}

void zero_frozen_gradients(const Network& net, ExactVector& grad) {
  for (const auto& c : net.conns) {
    if (!c.learn_weights) grad.zero(c.weight_offset, c.n_synapses());
    if (!c.learn_delays) grad.zero(c.delay_offset, c.n_synapses());
  }
}

bool fold_sample_gradients(std::span<double> sample_grads, uint32_t n_samples, ExactVector& sum) {
  return fold_sample_gradients(sample_grads.data(), n_samples, sum.size(), sum.size(), sum.digits().data());
}

bool fold_sample_gradients(const double* sample_grads, uint32_t n_samples, size_t stride, size_t P,
                           int64_t* digits) {
  bool ok = true;
  for (size_t i = 0; i < P; ++i) {
    int64_t* d = digits + i * ExactSum::kDigits;
    for (uint32_t s = 0; s < n_samples; ++s) {
      const double v = sample_grads[size_t(s) * stride + i];
      if (v != 0.0) ok &= exact_add(d, v);  // many parameters get nothing from a sample
    }
  }
  return ok;
}
bool fold_sample_gradients(const float* sample_grads, uint32_t n_samples, size_t stride, size_t P, int64_t* digits) {
  bool ok = true;
  for (size_t i = 0; i < P; ++i)
    ok &= fold_float_parameter(sample_grads + i, stride, n_samples, digits + i * ExactSum::kDigits);
  return ok;
}

namespace {
std::string human(long double b) {
  std::ostringstream os;
  os.precision(3);
  if (b >= 1024.0L * 1024 * 1024) os << double(b / (1024.0L * 1024 * 1024)) << " GiB";
  else if (b >= 1024.0L * 1024) os << double(b / (1024.0L * 1024)) << " MiB";
  else os << double(b / 1024.0L) << " KiB";
  return os.str();
}
}  // namespace

uint64_t engine_memory_bytes(const Network& net, const EngineOptions& opt, std::string* why) {
  // long double: a hostile config must not overflow the estimate itself.
  const long double real = opt.precision == Precision::Float64 ? 8 : 4;
  const long double T = std::max(opt.threads, 1);
  const long double P = (long double)net.n_params;
  long double rings = 0, rings_max = 0;
  uint32_t rings_pop = 0;
  for (uint32_t p = 0; p < net.pops.size(); ++p) {
    if (net.pops[p].kind == PopKind::Input) continue;
    const long double N = net.pops[p].size;
    const uint32_t smax = uint32_t(std::max(net.max_incoming_delay_steps(p), 0));
    const long double slots = ring_slots_for(smax + 1) + 2.0L * ring_slots_for(smax + 2);
    const long double b = N * (slots + 4) * real + N * 4;  // rings, histories, V/I/lambdas, counts
    rings += b;
    if (b > rings_max) rings_max = b, rings_pop = p;
  }
  const long double per_thread_rings = rings * T;
  // Per-sample gradients (64 B, kFoldBlock) per thread; an exact sum per thread but the first,
  // which sums into the caller's (counted in host).
  const long double grads = T * P * 64.0L + (T - 1) * P * 48;
  const long double host = P * (real + 4) + P * (8.0L * 5 + 48);  // engine copies; params, best, m, v, grad, exact
  const long double total = per_thread_rings + grads + host;
  if (why) {
    std::ostringstream os;
    const auto& pop = net.pops[rings_pop];
    os << human(total) << ": rings and histories " << human(per_thread_rings);
    if (rings_max > 0) {
      int32_t steps = net.max_incoming_delay_steps(rings_pop);
      std::string conn = "?";
      for (size_t c = 0; c < net.conns.size(); ++c)
        if (net.conns[c].post == rings_pop && net.conns[c].max_delay_steps == steps) {
          conn = "network.connection." + std::to_string(c) + ".max_delay = " + [&] {
            std::ostringstream v;
            v << net.conns[c].max_delay_ms;
            return v.str();
          }();
          break;
        }
      uint32_t idx = rings_pop;
      os << " (largest: network.population." << idx << ".size = " << pop.size << " ('" << pop.name << "') x "
         << steps << " delay steps from " << conn << " ms / network.dt = " << net.dt << " ms)";
    }
    size_t big = 0;
    for (size_t c = 1; c < net.conns.size(); ++c)
      if (net.conns[c].n_synapses() > net.conns[big].n_synapses()) big = c;
    os << ", gradient buffers " << human(grads) << " (" << net.n_params << " parameters";
    if (!net.conns.empty()) {
      const auto& c = net.conns[big];
      os << ", most in network.connection." << big << ": network.population." << c.pre << ".size = " << c.n_pre
         << " x network.population." << c.post << ".size = " << c.n_post;
    }
    os << "; x engine.threads = " << opt.threads << "), parameters and optimiser state " << human(host);
    *why = os.str();
  }
  return total >= 1.8e19L ? UINT64_MAX : uint64_t(total);
}

uint64_t available_memory_bytes() {
  uint64_t avail = UINT64_MAX;
  std::ifstream mi("/proc/meminfo");
  for (std::string line; std::getline(mi, line);)
    if (line.rfind("MemAvailable:", 0) == 0) {
      avail = uint64_t(std::strtoull(line.c_str() + 13, nullptr, 10)) * 1024;
      break;
    }
  rlimit rl{};
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    uint64_t used = 0;
    std::ifstream st("/proc/self/statm");
    st >> used;
    used *= uint64_t(sysconf(_SC_PAGESIZE));
    const uint64_t lim = uint64_t(rl.rlim_cur);
    avail = std::min(avail, lim > used ? lim - used : 0);
  }
  if (const char* e = std::getenv("DELAYPROP_MEMORY_LIMIT")) {
    const unsigned long long v = std::strtoull(e, nullptr, 10);
    if (v > 0) avail = std::min<uint64_t>(avail, v);
  }
  return avail;
}

void check_engine_memory(const Network& net, const EngineOptions& opt, const std::string& source) {
  if (opt.backend != "cpu") return;  // device memory is the CUDA backend's to check
  std::string why;
  const uint64_t need = engine_memory_bytes(net, opt, &why);
  const uint64_t avail = available_memory_bytes();
  require(need <= avail, source, source.empty() ? "" : ": ", "the network needs at least ", why, "; only ",
          human(avail), " (", avail, " bytes) are available");
}

void ThreadErrors::rethrow(const char* where) const {
  if (!first_) return;
  try {
    std::rethrow_exception(first_);
  } catch (const std::bad_alloc&) {
    fail(where, ": out of memory (std::bad_alloc on an engine thread)");
  }
}

}  // namespace delayprop
