#pragma once
// One training step of a global batch, as the trainer runs it: this rank's forward pass, the
// spike counts summed over ranks, loss and regulariser kicks, backward, the exact gradient
// summed over ranks, the same Adam step on every rank, the silent-output bump. Two paths with
// the same results: on the host (Engine::forward/backward_exact, core/ loss and Adam), or
// device-resident (core/resident.hpp: parameters, Adam state and gradient stay in the
// engine; docs/GPU.md). The trainer uses the resident path for engine.backend = "cuda"
// unless engine.resident = false.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/engine.hpp"
#include "core/optimizer.hpp"
#include "core/resident.hpp"
#include "dist/comm.hpp"

namespace delayprop {

// Neurons of every LIF population, concatenated: the layout of the spike-count vectors that
// are all-reduced (the engines' count order too).
struct CountLayout {
  std::vector<uint32_t> offset;  // per population; LIF only meaningful
  uint32_t total = 0;
  explicit CountLayout(const Network& net);
  // Writes each LIF population's per-neuron spike counts of `out` into counts (total entries).
  void flatten(const ForwardOutputs& out, std::vector<uint32_t>& counts) const;
};

// Adds `amount` to every learned incoming weight of neuron j of population p (feedforward
// connections only when asked): the silent-neuron bumps of MODEL.md §4.
void bump_incoming(const Network& net, std::vector<double>& params, uint32_t p, uint32_t j, double amount,
                   bool feedforward_only);

enum class StepPhase { forward, backward, comm };

// Summed over ranks: the loss (per-sample mean contributions, already divided by the global
// batch), correct predictions, samples.
struct StepSums {
  double loss = 0, correct = 0, samples = 0;
};

class TrainStep {
 public:
  // resident: use engine.resident() (which must exist). reducer: how the resident gradient
  // is summed over ranks; null = through comm (in place on the device when comm supports
  // device buffers, else staged through the host). bucket_bytes: the all-reduce buckets.
  TrainStep(const Network& net, Engine& engine, dist::Communicator& comm, const ResidentSpec& spec, bool resident,
            GradientReducer* reducer = nullptr, size_t bucket_bytes = size_t(32) << 20);
  ~TrainStep();

  bool resident() const { return res_ != nullptr; }
  // Resident path: the host's parameters and Adam moments go to the device (start of an
  // epoch, after the host changed them) / come back when the device has newer ones (before
  // the host reads them). No-ops on the host path.
  void upload(const std::vector<double>& params, const Adam& adam);
  void download(std::vector<double>& params, Adam& adam);

  // One step on this rank's samples (labels), global_batch samples over all ranks; learning
  // rates of this step. Host path: params and adam are updated; resident path: the device's
  // state is (adam counts the step), params stay as they were until download().
  // lap(phase) is called after each phase (for the trainer's time split).
  StepSums run(std::vector<double>& params, Adam& adam, const SpikeBatch& batch, std::span<const int32_t> labels,
               uint64_t global_batch, double lr_weights, double lr_delays,
               const std::function<void(StepPhase)>& lap = {});

  // Resident path: keeps the input spikes of a data set (its samples, as make_batch makes
  // them) on the device, so that run() of sample indices assembles each batch there. Returns
  // false, keeping nothing, on the host path or when the data set does not fit
  // (ResidentTraining::set_dataset).
  bool set_dataset(const SpikeBatch& all);
  bool has_dataset() const { return has_dataset_; }
  // run() of the batch made of the data set's samples `samples` (in that order; labels are
  // theirs): the same step as run() of that batch.
  StepSums run(std::vector<double>& params, Adam& adam, std::span<const uint32_t> samples,
               std::span<const int32_t> labels, uint64_t global_batch, double lr_weights, double lr_delays,
               const std::function<void(StepPhase)>& lap = {});

  // The last step's spike counts summed over ranks (CountLayout order).
  const std::vector<uint32_t>& counts() const { return counts_; }

 private:
  // The step of run(), its batch given either way (batch, or samples of the data set).
  StepSums step(std::vector<double>& params, Adam& adam, const SpikeBatch* batch, std::span<const uint32_t> samples,
                std::span<const int32_t> labels, uint64_t global_batch, double lr_weights, double lr_delays,
                const std::function<void(StepPhase)>& lap);

  const Network& net_;
  Engine& engine_;
  dist::Communicator& comm_;
  ResidentSpec spec_;
  CountLayout layout_;
  ResidentTraining* res_ = nullptr;
  GradientReducer* reducer_;
  std::unique_ptr<GradientReducer> comm_reducer_;
  size_t bucket_bytes_;
  bool device_newer_ = false;
  bool has_dataset_ = false;
  // Buffers of a step, reused.
  ForwardOutputs fwd_;
  BackwardInputs bin_;
  ExactVector exact_grad_;
  std::vector<double> grad_;
  std::vector<uint32_t> counts_;
};

}  // namespace delayprop
