#pragma once
// The backend interface: forward(batch) -> readouts + spike tape (kept inside the engine);
// backward(dL/dy) -> gradients of every weight and delay. CPU and CUDA implement it.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/exact_sum.hpp"
#include "core/network.hpp"
#include "core/spikes.hpp"

namespace delayprop {

enum class Precision { Float32, Float64 };

// The most CPU threads an engine accepts (each has its own stack and workspaces).
constexpr int kMaxThreads = 1024;

struct EngineOptions {
  std::string backend = "cpu";  // cpu | cuda
  Precision precision = Precision::Float32;
  int threads = 1;  // CPU backend; results do not depend on it
  // CPU backend's synapse kernels: auto (the best this CPU has, or the environment variable
  // DELAYPROP_SIMD) | scalar | avx2 | avx512; results do not depend on it (MODEL.md §3.2).
  std::string simd = "auto";
  // CUDA backend: -1 = "auto", the GPU of this node-local rank, resolved by the trainer
  // (dist::gpu_for_this_rank); an engine made with -1 directly uses device 0.
  int device = -1;
  // CUDA backend, training: device-resident steps (parameters, Adam state and gradients stay
  // on the GPU; core/resident.hpp). false: the host path (forward/backward_exact, Adam on the
  // host). Not read by the engine; the trainer chooses.
  bool resident = true;
};

struct ForwardOutputs {
  uint32_t n_samples = 0, n_outputs = 0;
  // [b * n_outputs + k]: y_k of an LI readout, or the first-spike time in ms of a LIF
  // output (T_trial when it never spiked).
  std::vector<double> readout;
  std::vector<int32_t> first_spike_step;  // [b * n_outputs + k], -1 = silent (first-spike outputs)
  // Per population (empty for non-LIF): spikes of each neuron summed over the batch.
  std::vector<std::vector<uint32_t>> spike_counts;
  uint64_t hidden_spikes = 0;     // every LIF spike of the batch
  uint64_t input_spikes = 0;
  uint64_t synaptic_events = 0;   // spikes x fan-out delivered before the trial end

  // Optional, for spike rasters: set record_spikes before forward() and the CPU backend fills
  // spikes[b][p] with the (step, neuron) of every spike of LIF population p in sample b, in
  // time order (empty for other populations); the CUDA backend refuses the request.
  bool record_spikes = false;
  std::vector<std::vector<std::vector<std::pair<int32_t, uint32_t>>>> spikes;
};

struct BackwardInputs {
  // [b * n_outputs + k]: dL/dy_k (LI readouts) or dL/dt_k in 1/ms (first-spike outputs).
  std::vector<double> output_grad;
  // Per population (empty = none): the regulariser kick subtracted from lambda_V of each
  // neuron at each of its spikes (MODEL.md §4).
  std::vector<std::vector<double>> spike_kick;
};

class ResidentTraining;  // core/resident.hpp

class Engine {
 public:
  virtual ~Engine() = default;
  // Runs the batch and keeps its spike tape for the following backward().
  virtual void forward(std::span<const double> params, const SpikeBatch& batch, ForwardOutputs& out) = 0;
  // Gradients of the last forward's batch, summed exactly over its samples (MODEL.md §3.3:
  // each sample's gradient in a fixed order, the samples' sum in fixed point, so the result does
  // not depend on threads, chunks, ranks or GPUs), written (not added) to grad (n_params
  // elements; grad is resized). params must be those of forward().
  virtual void backward_exact(std::span<const double> params, const BackwardInputs& in, ExactVector& grad) = 0;
  // The same, rounded to double (to nearest). Throws Error if a sum leaves the exact range.
  void backward(std::span<const double> params, const BackwardInputs& in, std::span<double> grad);
  // sums.round_to(out), on the engine's threads where it has several (the same values).
  virtual size_t round_exact(const ExactVector& sums, std::span<double> out) { return sums.round_to(out); }
  // Bytes the engine holds now (workspaces and tapes), for benchmarks.
  virtual size_t memory_bytes() const = 0;
  // Device-resident training (core/resident.hpp), or null when the engine has none (the CPU
  // backend). Owned by the engine.
  virtual ResidentTraining* resident() { return nullptr; }
};

}  // namespace delayprop
