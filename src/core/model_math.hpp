#pragma once
// The model's discrete math (MODEL.md §2-§3), written once for host and device code: the CPU
// and CUDA backends call these per neuron and per synapse and keep only their loops.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/network.hpp"

#if defined(__CUDACC__)
#define DP_HOST_DEVICE __host__ __device__
#else
#define DP_HOST_DEVICE
#endif

namespace delayprop {

// Per-population constants of one time step, derived from tau_m, tau_s and dt.
template <typename Real>
struct StepConstants {
  Real alpha;        // exp(-dt / tau_m)
  Real beta;         // exp(-dt / tau_s)
  Real c;            // (tau_s / dt)(1 - beta): the step-averaged current gain
  Real a_coef;       // A (beta - alpha), A = tau_m / (tau_s - tau_m)
  Real tau_m;
  Real tau_s;
  Real theta;
};

template <typename Real>
inline StepConstants<Real> make_step_constants(double tau_m, double tau_s, double theta, double dt) {
  const double alpha = std::exp(-dt / tau_m);
  const double beta = std::exp(-dt / tau_s);
  const double a = tau_m / (tau_s - tau_m);
  return {Real(alpha), Real(beta), Real((tau_s / dt) * (1.0 - beta)), Real(a * (beta - alpha)),
          Real(tau_m), Real(tau_s), Real(theta)};
}

// Forward step of one neuron after this step's arrivals were added to i.
template <typename Real>
DP_HOST_DEVICE inline void lif_step(const StepConstants<Real>& k, Real& v, Real& i) {
  v = k.alpha * v + (Real(1) - k.alpha) * k.c * i;
  i = k.beta * i;
}

// Exact backward step over one time step with constant loss density s (MODEL.md §3).
template <typename Real>
DP_HOST_DEVICE inline void adjoint_step(const StepConstants<Real>& k, Real s, Real& lv, Real& li) {
  li = k.beta * li + k.a_coef * (lv + s) - (Real(1) - k.beta) * s;
  lv = k.alpha * lv - (Real(1) - k.alpha) * s;
}

// Adjoint jump of lambda_V at a spike (MODEL.md §3 (a)); r gathers the downstream terms.
template <typename Real>
DP_HOST_DEVICE inline Real spike_jump(Real lv, Real theta, Real r, Real i0_minus_v) {
  return lv + (theta * lv + r) / i0_minus_v;
}

// Forward step of one neuron (MODEL.md §2): takes this step's arrivals from its ring cell (and
// clears the cell), advances V and I; returns I0, the current at the start of the step.
template <typename Real>
DP_HOST_DEVICE inline Real neuron_step(const StepConstants<Real>& k, Real& v, Real& i, Real& cell) {
  i += cell;
  cell = Real(0);
  const Real i0 = i;
  lif_step(k, v, i);
  return i0;
}

// The same for a neuron that input connections project to: the cell's arrivals from input
// spikes are summed apart (x_cell) and added to the other arrivals' sum first (MODEL.md §2.3);
// both cells are cleared.
template <typename Real>
DP_HOST_DEVICE inline Real neuron_step(const StepConstants<Real>& k, Real& v, Real& i, Real& x_cell, Real& cell) {
  Real a = x_cell + cell;
  x_cell = Real(0);
  cell = Real(0);
  return neuron_step(k, v, i, a);
}

// Threshold, hard reset and refractoriness of a LIF neuron after its step. fired (null for
// neurons that may spike many times) marks a single-spike neuron that has spiked: it stays
// at V = 0 for the rest of the trial. Returns true on a spike, with x = I0 - V, the adjoint
// jump's denominator recorded before the reset.
template <typename Real>
DP_HOST_DEVICE inline bool lif_fire(const StepConstants<Real>& k, Real i0, Real& v, uint8_t* fired, Real& x) {
  if (fired && *fired) {
    v = Real(0);
    return false;
  }
  if (!(v >= k.theta)) return false;
  x = i0 - v;
  v = Real(0);
  if (fired) *fired = 1;
  return true;
}

// Readout of an LI output after its update in step n (MODEL.md §2): sum-exp and average add to
// yacc; max keeps the largest V and the first step n* that reached it.
template <typename Real>
DP_HOST_DEVICE inline void accumulate_readout(Readout ro, int32_t n, Real v, Real sumexp_weight_n, uint32_t n_steps,
                                              Real& yacc, Real& ymax, int32_t& nstar) {
  if (ro == Readout::SumExp) {
    yacc += sumexp_weight_n * v;
  } else if (ro == Readout::Average) {
    yacc += v / Real(n_steps);
  } else if (ro == Readout::Max && v > ymax) {
    ymax = v;
    nstar = n;
  }
}

// The readout of a trial from the accumulated state: y of an LI readout, or the first-spike
// time in ms (the trial length for an output that never spiked).
template <typename Real>
DP_HOST_DEVICE inline double final_readout(Readout ro, Real yacc, Real ymax, int32_t first_step, double dt,
                                           double trial_ms) {
  if (ro == Readout::Max) return double(ymax);
  if (ro == Readout::FirstSpike) return first_step >= 0 ? first_step * dt : trial_ms;
  return double(yacc);
}

// The step at which a spike of step n arrives through a synapse of s delay steps: even
// delay 0 takes one step (MODEL.md §2). Its row in a ring of mask + 1 slots.
DP_HOST_DEVICE inline int32_t arrival_step(int32_t n, int32_t s) { return n + 1 + s; }
DP_HOST_DEVICE inline size_t ring_row(int32_t n, int32_t s, uint32_t mask) {
  return size_t(uint32_t(arrival_step(n, s)) & mask);
}

// One synapse of a spike in the backward pass (MODEL.md §3 (a), (d)), with (lv, li) the target's
// adjoint at the arrival step: its term of the jump's sum R ...
template <typename Real>
DP_HOST_DEVICE inline Real synapse_jump_term(Real w, Real lv, Real li) {
  return w * (lv - li);
}
// ... and its weight and delay gradients (delay per ms), added into the accumulators.
template <typename Real, typename Acc>
DP_HOST_DEVICE inline void add_synapse_gradients(Real w, Real lv, Real li, Real tau_s, Acc& gw, Acc& gd) {
  gw -= tau_s * li;
  gd -= w * (li - lv);
}

// The adjoint of a LIF neuron at its spike (MODEL.md §3 (a)): a single-spike neuron's adjoint
// is 0 after its spike; then the jump with R = r, then the regulariser kick (not divided).
template <typename Real>
DP_HOST_DEVICE inline void spike_adjoint(const StepConstants<Real>& k, bool single_spike, Real r, Real x, Real kick,
                                         Real& lv, Real& li) {
  if (single_spike) lv = li = Real(0);
  lv = spike_jump(lv, k.theta, r, x);
  lv -= kick;
}

// One backward step of an output neuron (MODEL.md §3 (a)-(b), §4): the max readout's jump at
// n*, then the step with the readout's loss density (g = dL/dy of this output).
template <typename Real>
DP_HOST_DEVICE inline void output_adjoint_step(const StepConstants<Real>& k, Readout ro, int32_t n, int32_t nstar,
                                               Real g, Real sumexp_density_n, Real inv_trial, Real& lv, Real& li) {
  if (ro == Readout::Max && nstar == n) lv -= g / k.tau_m;
  const Real s = ro == Readout::SumExp ? g * sumexp_density_n : ro == Readout::Average ? g * inv_trial : Real(0);
  adjoint_step(k, s, lv, li);
}

// Delay in steps: round half away from zero, clamped to [0, max_steps].
// Spelled without round(), a library call on the host that made loading the parameters of
// a batch cost 4 ns per synapse: x - trunc(x) is exact below 2^31.
DP_HOST_DEVICE inline int32_t delay_steps(double delay_ms, double dt, int32_t max_steps) {
  const double x = delay_ms / dt;
  if (!(x > 0.0)) return 0;  // also maps NaN to 0; NaN is rejected before it gets here
  if (x >= double(max_steps)) return max_steps;
  const int32_t t = int32_t(x);
  return t + int32_t(x - double(t) >= 0.5);
}

// A delay in ms after an optimiser step: clamped to [0, max_ms] (core/network.cpp's
// clamp_delays on the host, the resident update on the device).
DP_HOST_DEVICE inline double clamp_delay(double d, double max_ms) { return d < 0 ? 0 : (d > max_ms ? max_ms : d); }

// Ring buffers have a power-of-two number of slots so that the index is a mask.
DP_HOST_DEVICE inline uint32_t ring_slots_for(uint32_t needed) {
  uint32_t r = 1;
  while (r < needed) r <<= 1;
  return r;
}

}  // namespace delayprop
