// delayprop-train: trains a network from a config. One process, or one per rank under
// mpirun (data parallel). Writes DIR/config.toml, DIR/metrics.jsonl, DIR/checkpoint.h5 and
// DIR/summary.json.
#include <iostream>

#include "cli.hpp"
#include "io/config.hpp"
#include "train/train.hpp"
#include "dist/mpi.hpp"

using namespace delayprop;

static const char* kUsage =
    "usage: delayprop-train --config FILE [--set key=value]... --out DIR\n"
    "                       [--seed S] [--threads N] [--resume] [--quiet]\n"
    "                       [--comm auto|local|mpi|nccl|dryrun:N:R]\n"
    "Under mpirun (mpirun -np 4 delayprop-train ...) the ranks train data-parallel.\n";

int main(int argc, char** argv) {
  // MPI is initialised here when started by an MPI launcher; an error on one rank then ends
  // the whole job instead of leaving the others waiting in a collective.
  dist::MpiSession mpi(&argc, &argv);
  return mpi.run_main("delayprop-train", [&] {
    Args args(argc, argv, {"config", "set", "out", "seed", "threads", "comm"}, {"resume", "quiet", "help"});
    if (print_version(args, "delayprop-train")) return 0;
    if (args.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    std::vector<std::string> sets = args.all("set");
    if (args.has("seed")) {
      const auto seed = args.get_int("seed", 0);
      sets.push_back("train.seed=" + std::to_string(seed));
    }
    if (args.has("threads")) sets.push_back("engine.threads=" + std::to_string(args.get_int("threads", 1)));
    Config cfg = load_config(args.require_value("config"), sets);
    // "auto" under mpirun: NCCL when the engine is on the GPU and NCCL can be used, else MPI.
    auto comm = dist::make_communicator(args.get("comm", "auto"), {cfg.engine.backend == "cuda", cfg.engine.device});
    TrainOptions opt;
    opt.out_dir = args.require_value("out");
    opt.resume = args.has("resume");
    opt.progress = !args.has("quiet");
    const std::string summary = train(cfg, *comm, opt);
    if (comm->rank() == 0) std::cout << summary << "\n";
    return 0;
  });
}
