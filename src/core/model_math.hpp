#pragma once
// The model's discrete math (SPEC §2-§3), written once for host and device code.
#include <cmath>
#include <cstdint>

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

// Exact backward step over one time step with constant loss density s (SPEC §3).
template <typename Real>
DP_HOST_DEVICE inline void adjoint_step(const StepConstants<Real>& k, Real s, Real& lv, Real& li) {
  li = k.beta * li + k.a_coef * (lv + s) - (Real(1) - k.beta) * s;
  lv = k.alpha * lv - (Real(1) - k.alpha) * s;
}

// Adjoint jump of lambda_V at a spike (SPEC §3 (a)); r gathers the downstream terms.
template <typename Real>
DP_HOST_DEVICE inline Real spike_jump(Real lv, Real theta, Real r, Real i0_minus_v) {
  return lv + (theta * lv + r) / i0_minus_v;
}

// Delay in steps: round half away from zero, clamped to [0, max_steps].
DP_HOST_DEVICE inline int32_t delay_steps(double delay_ms, double dt, int32_t max_steps) {
  double s = ::round(delay_ms / dt);
  if (!(s > 0.0)) return 0;  // also maps NaN to 0; NaN is rejected before it gets here
  return s > double(max_steps) ? max_steps : int32_t(s);
}

// Ring buffers have a power-of-two number of slots so that the index is a mask.
DP_HOST_DEVICE inline uint32_t ring_slots_for(uint32_t needed) {
  uint32_t r = 1;
  while (r < needed) r <<= 1;
  return r;
}

}  // namespace delayprop
