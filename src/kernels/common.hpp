#pragma once
// What every backend does the same way on the host: argument checks, the readout tables,
// the input channel map and the zeroing of frozen gradients. The per-neuron and per-synapse
// math is in core/model_math.hpp; the loops stay in each backend.
#include <cstdint>
#include <span>
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
// each sum.size() values) to the exact sum and clears them. One pass over the sum for all
// of them: the sum is read and written once per call, not once per sample. Returns false
// when a value is not finite or out of the exact range.
bool fold_sample_gradients(std::span<double> sample_grads, uint32_t n_samples, ExactVector& sum);
// The same on raw arrays: sample_grads n_samples x P, digits P x ExactSum::kDigits.
bool fold_sample_gradients(double* sample_grads, uint32_t n_samples, size_t P, int64_t* digits);

}  // namespace delayprop
