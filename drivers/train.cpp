// delayprop-train: trains a network from a config. One process, or one per rank under
// mpirun (data parallel). Writes DIR/config.toml, DIR/metrics.jsonl, DIR/checkpoint.h5 and
// DIR/summary.json.
//
// SIGTERM and SIGUSR1 ask for a stop: at the next batch boundary (all ranks the same one)
// a checkpoint is written and the program exits with status 75 (kExitPreempted).
#include <csignal>
#include <filesystem>
#include <iostream>

#include "cli.hpp"
#include "io/config.hpp"
#include "io/data/dataset.hpp"
#include "train/train.hpp"
#include "dist/mpi.hpp"

using namespace delayprop;

static const Cli kCli(
    "delayprop-train",
    "usage: delayprop-train --config FILE [--set key=value]... --out DIR\n"
    "                       [--seed S] [--threads N] [--resume [--force] | --overwrite]\n"
    "                       [--check] [--quiet] [--comm auto|local|mpi|nccl|dryrun:N:R]\n"
    "Under mpirun (mpirun -np 4 delayprop-train ...) the ranks train data-parallel.\n"
    "SIGTERM or SIGUSR1: checkpoint at the next batch boundary and exit 75 (resume later).\n",
    {{"config", "FILE", "the run's config (docs/CONFIG.md)", kRequired},
     {"set", "key=value", "override a config key, after the file; repeatable", "none"},
     {"out", "DIR", "the run directory", kRequired},
     {"seed", "S", "the same as --set train.seed=S", "the config's train.seed"},
     {"threads", "N", "the same as --set engine.threads=N", "the config's engine.threads"},
     {"resume", "",
      "continue DIR's run from its checkpoint (from the start if it has none); the config must be the run's "
      "but for train.epochs, train.patience, train.checkpoint_every, train.checkpoint_batches, "
      "train.eval_test_every_epoch, engine.threads, data.path",
      "off"},
     {"force", "", "with --resume: accept any config change (logged)", "off"},
     {"overwrite", "", "replace the run in DIR (a directory holding a run needs this or --resume)", "off"},
     {"check", "", "check the config, the data (loaded) and DIR, write nothing, exit 0 if fine", "off"},
     {"quiet", "", "no progress line on stderr", "off"},
     {"comm", "auto|local|mpi|nccl|dryrun:N:R",
      "the communicator; auto under mpirun: NCCL when the engine is on the GPU and NCCL can be used, else MPI",
      "auto"}});

namespace {
std::atomic<int> g_stop{0};
extern "C" void on_stop_signal(int) { g_stop.store(1, std::memory_order_relaxed); }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}
}  // namespace

int main(int argc, char** argv) {
  // MPI is initialised here when started by an MPI launcher; an error on one rank then ends
  // the whole job instead of leaving the others waiting in a collective.
  dist::MpiSession mpi(&argc, &argv);
  return mpi.run_main("delayprop-train", [&] {
    Args args(argc, argv, kCli);
    if (print_help_or_version(args, kCli)) return 0;
    std::vector<std::string> sets = args.all("set");
    if (args.has("seed")) {
      const auto seed = args.get_int("seed", 0);
      sets.push_back("train.seed=" + std::to_string(seed));
    }
    if (args.has("threads")) sets.push_back("engine.threads=" + std::to_string(args.get_int("threads", 1)));
    if (args.has("resume") && args.has("overwrite")) throw UsageError("--resume and --overwrite exclude each other");
    if (args.has("force") && !args.has("resume")) throw UsageError("--force goes with --resume");
    Config cfg = load_config(args.require_value("config"), sets);
    TrainOptions opt;
    opt.out_dir = args.require_value("out");
    opt.resume = args.has("resume");
    opt.overwrite = args.has("overwrite");
    opt.force = args.has("force");
    opt.progress = !args.has("quiet");
    if (args.has("check")) {
      // What a queued job would trip over first: the config (loaded above), the data, DIR.
      const DataSplits d = load_dataset(cfg.data, cfg.net);
      require(!d.train.samples.empty(), "data: the training set is empty");
      if (!opt.resume && !opt.overwrite)
        for (const auto& name : run_files())
          require(!std::filesystem::exists(opt.out_dir + "/" + name), opt.out_dir, " holds a run (", name,
                  "); continue it with --resume or replace it with --overwrite");
      std::cout << "ok: " << cfg.source << ": " << d.description << "\n";
      return 0;
    }
    auto comm = dist::make_communicator(args.get("comm", "auto"), {cfg.engine.backend == "cuda", cfg.engine.device});
    install_stop_handlers();
    opt.stop = &g_stop;
    try {
      const std::string summary = train(cfg, *comm, opt);
      if (comm->rank() == 0) std::cout << summary << "\n";
    } catch (const Preempted& e) {
      if (comm->rank() == 0) std::cerr << "delayprop-train: " << e.what() << "\n";
      return kExitPreempted;
    }
    return 0;
  });
}
