#pragma once
// The network description: populations, dense connections, and the one flat parameter
// buffer that holds every weight and every delay (ms).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace delayprop {

enum class PopKind { Input, LIF, LI };
enum class Readout { None, SumExp, Average, Max, FirstSpike };

const char* to_string(PopKind k);
const char* to_string(Readout r);

struct Population {
  std::string name;
  PopKind kind = PopKind::LIF;
  uint32_t size = 0;
  double tau_m = 20.0;  // ms
  double tau_s = 5.0;   // ms
  double theta = 1.0;
  Readout readout = Readout::None;  // set on the output population only
  bool single_spike = false;        // refractory for the rest of the trial after its first spike
};

// Initial values of a parameter group: constant(a), normal(mean a, sd b), uniform[a, b),
// or explicit values (n_pre x n_post, row-major).
struct InitSpec {
  enum class Dist { Constant, Normal, Uniform, Values };
  InitSpec(Dist d = Dist::Constant, double a_ = 0.0, double b_ = 0.0) : dist(d), a(a_), b(b_) {}
  Dist dist;
  double a, b;
  std::vector<double> values;
};

struct Connection {
  std::string name;
  uint32_t pre = 0, post = 0;  // population indices
  bool recurrent = false;      // excluded from the silent-neuron bump; pre == post implies it
  double max_delay_ms = 0.0;
  bool learn_weights = true;
  bool learn_delays = true;
  InitSpec weight_init, delay_init;

  // Derived by Network::finalize().
  int32_t max_delay_steps = 0;
  uint32_t n_pre = 0, n_post = 0;
  size_t weight_offset = 0;  // weights[i * n_post + j]: pre i -> post j
  size_t delay_offset = 0;   // delays in ms, same layout
  size_t n_synapses() const { return size_t(n_pre) * n_post; }
};

struct Network {
  double dt = 1.0;       // ms
  uint32_t n_steps = 0;  // trial length N_T
  std::vector<Population> pops;
  std::vector<Connection> conns;

  // Derived by finalize().
  size_t n_params = 0;
  uint32_t output = 0;          // index of the population that carries the readout
  uint32_t n_input_channels = 0;  // input populations' neurons, numbered in declaration order
  std::vector<uint32_t> input_channel_offset;  // per population (inputs only meaningful)

  double trial_ms() const { return dt * n_steps; }
  // Checks the description and computes layouts; throws Error naming the offending item.
  void finalize();
  uint32_t find_population(const std::string& name) const;  // throws if absent
  // Largest delay in steps over the connections into population p (0 if none).
  int32_t max_incoming_delay_steps(uint32_t p) const;
};

// Draws initial parameters from the connections' InitSpecs with a counter-based generator:
// every value depends only on (seed, connection, synapse), never on threads or ranks.
std::vector<double> init_params(const Network& net, uint64_t seed);

// Rejects NaN/inf weights and NaN/inf/negative delays, naming connection and synapse.
void check_params(const Network& net, std::span<const double> params);

// Clamps every delay into [0, max delay] (after an optimiser step).
void clamp_delays(const Network& net, std::span<double> params);

}  // namespace delayprop
