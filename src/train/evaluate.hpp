#pragma once
// The one evaluation path (the trainer's validation and test evaluations, delayprop-eval):
// a data set in batches of batch_size samples (each batch sharded over the ranks of comm),
// built by make_batch, run forward; per batch the loss is summed with compute_loss divided
// by the data set's size, the batches' sums added in order and all-reduced once. Every rank
// gets the same result.
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine.hpp"
#include "core/loss.hpp"
#include "dist/comm.hpp"
#include "io/data/dataset.hpp"

namespace delayprop {

struct EvalResult {
  uint64_t n = 0;           // samples
  uint32_t n_classes = 0;   // K
  bool has_labels = true;
  double loss = 0.0;        // mean loss per sample (0 without labels)
  uint64_t correct = 0;
  double accuracy() const { return n ? double(correct) / double(n) : 0.0; }
  BatchStats stats;         // batching counters, summed over ranks
  // With keep_samples (every rank holds all of them, in data set order):
  std::vector<int32_t> labels, prediction;       // [n]
  std::vector<double> readout;                   // [n * K]: y_k, or first-spike time (ms)
  std::vector<int32_t> first_spike_step;         // [n * K]
  std::vector<uint64_t> confusion;               // [true * K + predicted], with labels
  // Per LIF population: spikes of each neuron summed over the data set (else empty).
  std::vector<std::vector<double>> spike_counts;
};

// Evaluation batch size used by training and by default by delayprop-eval: the training
// batch size, at least 64.
uint32_t eval_batch_size(uint32_t train_batch_size);

EvalResult evaluate(const Network& net, const LossSpec& loss, Engine& engine, dist::Communicator& comm,
                    const EventDataset& data, std::span<const double> params, uint32_t batch_size,
                    bool keep_samples);

}  // namespace delayprop
