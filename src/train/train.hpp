#pragma once
// The training loop: epochs over shuffled, sharded batches; forward, loss, backward,
// gradient all-reduce and the same Adam step on every rank; evaluation, early stopping,
// checkpoints and metrics. Rank 0 alone prints and writes files.
#include <string>

#include "io/config.hpp"
#include "dist/comm.hpp"

namespace delayprop {

struct TrainOptions {
  std::string out_dir;
  bool resume = false;
  bool progress = true;  // progress line with ETA on stderr (rank 0)
};

// Runs training as configured; returns the summary written to out_dir/summary.json.
std::string train(const Config& cfg, dist::Communicator& comm, const TrainOptions& opt);

}  // namespace delayprop
