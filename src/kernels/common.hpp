#pragma once
// What every backend does the same way on the host: argument checks, the readout tables,
// the input channel map and the zeroing of frozen gradients. The per-neuron and per-synapse
// math is in core/model_math.hpp; the loops stay in each backend.
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/engine.hpp"
#include "core/exact_sum.hpp"
#include "core/network.hpp"

namespace delayprop {

// Rejects backward() arguments that do not fit the last forward's batch of n_samples.
void check_backward_inputs(const Network& net, uint32_t n_samples, const BackwardInputs& in);

// Sum-exp readout per step n (MODEL.md §2, §4): weight exp(-t_n / T) / N_T of V(n) in the
// readout, and density exp(-t_n / T) / T of the loss in the backward pass.
template <typename Real>
struct SumExpTables {
  std::vector<Real> weight, density;
};
template <typename Real>
SumExpTables<Real> make_sumexp_tables(const Network& net);

// Global input channel -> (input population, neuron in it).
struct InputNeuron {
  uint32_t pop, neuron;
};
std::vector<InputNeuron> input_channel_map(const Network& net);

// Sets the gradients of parameters that are not learnt (learn_weights / learn_delays off)
// to 0, so that no optimiser moves them.
void zero_frozen_gradients(const Network& net, ExactVector& grad);

// Adds the gradients of n_samples samples (sample_grads holds them one after the other,
// each sum.size() values) to the exact sum (sample_grads is only read). One pass over the sum for all
// of them: the sum is read and written once per call, not once per sample. Returns false
// when a value is not finite or out of the exact range.
bool fold_sample_gradients(std::span<double> sample_grads, uint32_t n_samples, ExactVector& sum);
// The same on raw arrays: sample s's value of parameter i at sample_grads[s stride + i],
// digits P x ExactSum::kDigits; float sample gradients (the CPU engine's in float32)
// parameter by parameter, by fold_float_parameter.
bool fold_sample_gradients(const double* sample_grads, uint32_t n_samples, size_t stride, size_t P, int64_t* digits);
bool fold_sample_gradients(const float* sample_grads, uint32_t n_samples, size_t stride, size_t P, int64_t* digits);

// Float32 sample gradients of one parameter are summed in double before the fold when that is
// exact: every nonzero value's biased float exponent b in [kPresumMinExp, kPresumMaxExp]
// (each value then lies in the exact range, |x| < 2^55) and the b within kPresumSpread of
// each other: up to kPresumTerms values, multiples of 2^(b_min - 150) below 2^(b_max - 122),
// span at most 53 bits. One value is then added to the digits instead of up to 16; the
// exact sum is the same (the digits too, on every instruction set).
constexpr uint32_t kPresumMinExp = 20, kPresumMaxExp = 181, kPresumSpread = 25, kPresumTerms = 16;
static_assert(int(kPresumMinExp) - 150 >= ExactSum::kLsbExp && int(kPresumMaxExp) - 126 + 4 < ExactSum::kTopExp);

// Folds values g[0], g[stride], .. g[(n - 1) stride] of one parameter into its digits d:
// their double sum when that is exact (above), else one by one.
inline bool fold_float_parameter(const float* g, size_t stride, uint32_t n, int64_t* d) {
  uint32_t lo = 255, hi = 0;
  bool any = false;
  for (uint32_t s = 0; s < n; ++s) {
    uint32_t bits;
    memcpy(&bits, g + s * stride, sizeof bits);
    if (!(bits & 0x7fffffffu)) continue;
    any = true;
    lo = std::min(lo, (bits >> 23) & 0xffu);
    hi = std::max(hi, (bits >> 23) & 0xffu);
  }
  if (!any) return true;
  bool ok = true;
  if (n <= kPresumTerms && lo >= kPresumMinExp && hi <= kPresumMaxExp && hi - lo <= kPresumSpread) {
    double sum = 0;
    for (uint32_t s = 0; s < n; ++s) sum += double(g[s * stride]);
    return exact_add(d, sum);
  }
  for (uint32_t s = 0; s < n; ++s) {
    const float v = g[s * stride];
    if (v != 0.0f) ok &= exact_add(d, double(v));
  }
  return ok;
}

// Memory the CPU engine and the host parameter state need before the first spike is
// recorded (tapes grow with the spikes on top of this): per thread the arrival and
// adjoint-history rings, the neuron state, kFoldBlock per-sample gradients (in the engine
// precision) and an exact sum (48 bytes per parameter); once the engine's parameter copies and the host's
// parameters, Adam state and gradients. `why` (optional) gets the dominant terms, naming the
// config keys they come from.
uint64_t engine_memory_bytes(const Network& net, const EngineOptions& opt, std::string* why = nullptr);
// Memory this process may still allocate: MemAvailable (/proc/meminfo), bounded by
// RLIMIT_AS when set and by DELAYPROP_MEMORY_LIMIT (bytes) when set.
uint64_t available_memory_bytes();
// Throws Error, before anything is allocated, when engine_memory_bytes exceeds what is
// available, naming the keys and the bytes. `source` prefixes the message (the config file).
void check_engine_memory(const Network& net, const EngineOptions& opt, const std::string& source);

// No exception may leave an OpenMP region (the runtime aborts): run() catches on the
// thread, keeps the first, makes later calls no-ops; rethrow() after the region throws it
// (std::bad_alloc as an Error that says the engine ran out of memory).
class ThreadErrors {
 public:
  template <typename F>
  void run(F&& f) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      if (!first_) first_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void rethrow(const char* where) const;

 private:
  std::atomic<bool> failed_{false};
  std::mutex m_;
  std::exception_ptr first_;
};

}  // namespace delayprop
