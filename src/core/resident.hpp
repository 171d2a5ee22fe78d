#pragma once
// Device-resident training: an engine that keeps the parameters, the Adam state and the
// gradient in its own memory (the CUDA backend; docs/GPU.md, "Device-resident training").
// The trainer drives one step (src/train/step.cpp) as
//   forward(batch) -> [spike counts summed over ranks] -> backward(labels, counts)
//   -> reduce_gradient(ranks) -> update(counts)
// and sees only the loss, the number of correct samples and the spike counts. The results
// are those of the host step (Engine::forward/backward_exact, compute_loss,
// regulariser_kicks, Adam::step, the silent-output bump): the same shared functions
// (model_math.hpp, loss.hpp, optimizer.hpp) do the math on both sides.
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/engine.hpp"
#include "core/loss.hpp"
#include "core/optimizer.hpp"

namespace delayprop {

// Sums a gradient's exact-sum digits (core/exact_sum.hpp, int64, summed as uint64) over the
// ranks, in place, one bucket at a time.
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  // True: reduce() takes device pointers and enqueues the sum on `stream` (the engine's
  // cudaStream_t), in order with the engine's work. False: host pointers (the engine copies
  // the bucket down and back up; stream is null).
  virtual bool on_device() const = 0;
  virtual void reduce(int64_t* digits, size_t n, void* stream) = 0;
};

// The fixed settings of the training steps.
struct ResidentSpec {
  LossSpec loss;
  RegulariserSpec reg;
  AdamSpec adam;
  double output_bump = 0.0;  // added to the incoming weights of a silent LIF output neuron
};

struct ResidentLoss {
  double loss = 0.0;     // this rank's samples, summed as compute_loss sums them
  uint32_t correct = 0;  // this rank's correctly predicted samples
};

// The gradient's digit buffer split into all-reduce buckets: [first digit, digit count)
// ranges covering [0, n_params * kDigits) in order, each a whole number of parameters and at
// most bucket_bytes (at least one parameter).
std::vector<std::pair<size_t, size_t>> gradient_buckets(size_t n_params, size_t bucket_bytes);

class ResidentTraining {
 public:
  virtual ~ResidentTraining() = default;
  // The step settings (once, before the first step).
  virtual void configure(const ResidentSpec& spec) = 0;
  // Uploads parameters and Adam moments (start, resume, after the host changed them).
  virtual void set_state(std::span<const double> params, std::span<const double> m, std::span<const double> v) = 0;
  // Downloads them (waits for every queued step).
  virtual void get_state(std::span<double> params, std::span<double> m, std::span<double> v) = 0;
  // Forward pass of the batch with the resident parameters; out as Engine::forward's (the
  // spike counts are what the trainer all-reduces).
  virtual void forward(const SpikeBatch& batch, ForwardOutputs& out) = 0;
  // Keeps the input spikes of a whole data set on the device (`all`: its samples, as
  // make_batch makes them), so that forward(samples) assembles a batch there from sample
  // indices. Returns false, keeping nothing, when it would take more than half of the free
  // device memory. Replaces the data set set before.
  virtual bool set_dataset(const SpikeBatch& all) = 0;
  // Device bytes the data set takes (0: none set).
  virtual size_t dataset_bytes() const = 0;
  // Forward pass of the data set's samples `samples` (in that order), as forward(batch) of
  // the batch made of them: the same input spikes, the same results.
  virtual void forward(std::span<const uint32_t> samples, ForwardOutputs& out) = 0;
  // The loss of the last forward's samples (labels; global_batch samples over all ranks),
  // the regulariser kicks from the spike counts summed over ranks (every LIF population's
  // neurons, populations in order), and the backward pass into the resident gradient (exact
  // sums over this rank's samples; frozen groups zero).
  virtual ResidentLoss backward(std::span<const int32_t> labels, uint64_t global_batch,
                                std::span<const uint32_t> global_counts) = 0;
  // Sums the resident gradient over ranks, in place, in buckets of at most bucket_bytes.
  virtual void reduce_gradient(GradientReducer& reducer, size_t bucket_bytes) = 0;
  // Rounds the summed gradient to double (fails naming the first parameter out of the exact
  // range), one Adam step with the host's bias corrections (Adam::advance), the delay clamp,
  // then the silent-output bump from the global spike counts.
  virtual void update(double c1, double c2, double lr_weights, double lr_delays,
                      std::span<const uint32_t> global_counts) = 0;
};

}  // namespace delayprop
