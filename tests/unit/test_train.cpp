// The training loop: the sequence task is learned, and resume after kill -9 is bit-exact.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <tuple>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/config.hpp"
#include "io/h5.hpp"
#include "train/train.hpp"

using namespace delayprop;
namespace fs = std::filesystem;

namespace {
const std::string kSource = DELAYPROP_SOURCE_DIR;
const std::string kBinary = DELAYPROP_BINARY_DIR;

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("delayprop_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// Runs a shell command; returns the exit status (128 + signal when killed).
int sh(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::vector<double> final_params(const std::string& dir) {
  return h5::File::open_read(dir + "/checkpoint.h5").read_doubles("/params_flat");
}

nlohmann::json summary(const std::string& dir) {
  std::ifstream f(dir + "/summary.json");
  return nlohmann::json::parse(f);
}

// Trains cfg into a fresh temporary directory; returns the directory and its epoch lines.
std::pair<std::string, std::vector<nlohmann::json>> train_epochs(const Config& cfg, const std::string& name) {
  auto comm = dist::make_local_communicator();
  TrainOptions opt;
  opt.out_dir = temp_dir(name);
  opt.progress = false;
  train(cfg, *comm, opt);
  std::ifstream f(opt.out_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> epochs;
  for (std::string line; std::getline(f, line);)
    if (line.find("\"epoch\"") != std::string::npos) epochs.push_back(nlohmann::json::parse(line));
  return {opt.out_dir, epochs};
}
}  // namespace

TEST(Train, SequenceTaskLearnedWithinSixPresentations) {
  Config cfg = load_config(kSource + "/configs/sequence.toml");
  auto comm = dist::make_local_communicator();
  TrainOptions opt;
  opt.out_dir = temp_dir("sequence");
  opt.progress = false;
  auto s = nlohmann::json::parse(train(cfg, *comm, opt));
  const int presentations = s["presentations_to_100"];
  std::cout << "sequence task: 100 % after " << presentations << " presentations of each example\n";
  EXPECT_GE(presentations, 1);
  EXPECT_LE(presentations, 6);
}

class Resume : public ::testing::Test {
 protected:
  std::string train_cmd(const std::string& out, const std::string& extra = "") {
    return kBinary + "/delayprop-train --config " + kSource +
           "/configs/sequence.toml --set train.epochs=8 --set train.checkpoint_every=1"
           " --set train.checkpoint_batches=1 --quiet --out " + out + " " + extra + " > " + out + ".log 2>&1";
  }
};

TEST_F(Resume, KillDashNineThenResumeIsBitExact) {
  const std::string straight = temp_dir("straight"), killed = temp_dir("killed");
  ASSERT_EQ(sh(train_cmd(straight)), 0);
  // SIGKILL after the 7th batch (mid-epoch 4), then resume to the end.
  EXPECT_EQ(sh("DELAYPROP_TEST_KILL=batch:7 " + train_cmd(killed)), 128 + 9);
  EXPECT_FALSE(fs::exists(killed + "/summary.json"));
  ASSERT_EQ(sh(train_cmd(killed, "--resume")), 0);
  const auto a = final_params(straight), b = final_params(killed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "parameter " << i;  // bitwise
  EXPECT_EQ(summary(straight)["presentations_to_100"], summary(killed)["presentations_to_100"]);
}

TEST_F(Resume, KilledWhileWritingACheckpointResumesFromThePreviousOne) {
  const std::string straight = temp_dir("straight2"), killed = temp_dir("killed2");
  ASSERT_EQ(sh(train_cmd(straight)), 0);
  EXPECT_EQ(sh("DELAYPROP_TEST_KILL=checkpoint:5 " + train_cmd(killed)), 128 + 9);
  EXPECT_TRUE(fs::exists(killed + "/checkpoint.h5.tmp"));  // the half-written one
  ASSERT_EQ(sh(train_cmd(killed, "--resume")), 0);
  const auto a = final_params(straight), b = final_params(killed);
  ASSERT_EQ(a, b);
}

TEST_F(Resume, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  const std::string straight = temp_dir("straight3"), killed = temp_dir("killed3");
  ASSERT_EQ(sh(train_cmd(straight)), 0);
  EXPECT_EQ(sh("DELAYPROP_TEST_KILL=batch:9 " + train_cmd(killed)), 128 + 9);
  fs::resize_file(killed + "/checkpoint.h5", 100);  // truncated
  ASSERT_EQ(sh(train_cmd(killed, "--resume")), 0);
  EXPECT_EQ(final_params(straight), final_params(killed));
}

TEST_F(Resume, ResumingAFinishedRunKeepsItsSummary) {
  const std::string dir = temp_dir("finished");
  ASSERT_EQ(sh(train_cmd(dir)), 0);
  const auto before = summary(dir);
  ASSERT_EQ(sh(train_cmd(dir, "--resume")), 0);
  const auto after = summary(dir);
  for (const char* key : {"train_accuracy", "loss", "test_accuracy", "presentations_to_100", "epochs", "best_epoch"})
    EXPECT_EQ(before[key], after[key]) << key;
}

// train.min_epochs: warm-up epochs are neither kept nor counted by patience. The sequence
// task reaches 100 % early, so without warm-up an early epoch is kept and the run stops soon
// after; with 6 warm-up epochs the kept epoch is the 7th or later and the run lasts at least
// 7 + patience epochs. A run no longer than the warm-up keeps its last epoch.
TEST(Train, WarmUpEpochsAreNeitherKeptNorCountedByPatience) {
  auto run = [](uint32_t min_epochs, uint32_t epochs) {
    Config cfg = load_config(kSource + "/configs/sequence.toml");
    cfg.train.epochs = epochs;
    cfg.train.patience = 2;
    cfg.train.early_stop = "train";
    cfg.train.min_epochs = min_epochs;
    auto comm = dist::make_local_communicator();
    TrainOptions opt;
    opt.out_dir = temp_dir("warm_up_" + std::to_string(min_epochs) + "_" + std::to_string(epochs));
    opt.progress = false;
    return nlohmann::json::parse(train(cfg, *comm, opt));
  };
  const auto plain = run(0, 20), warm = run(6, 20), smoke = run(6, 3);
  std::cout << "no warm-up: kept epoch " << plain["best_epoch"] << " of " << plain["epochs"]
            << "; 6 warm-up epochs: kept " << warm["best_epoch"] << " of " << warm["epochs"] << "\n";
  ASSERT_LE(int(plain["best_epoch"]), 6) << "the control run must keep an early epoch for this test to mean anything";
  EXPECT_GE(int(warm["best_epoch"]), 7);
  EXPECT_GE(int(warm["epochs"]), int(warm["best_epoch"]) + 2);
  EXPECT_EQ(int(smoke["best_epoch"]), 3) << "a run within the warm-up keeps its last epoch";
}

// train.silent_below: the silent-neuron bump reaches hidden neurons that fire at most that
// many spikes per training sample, not only those that never fire. Learning rates 0, so the
// bump is the only change to the parameters; weaker input weights than the config's leave some
// hidden neurons silent.
TEST(Train, SilentBelowWidensTheSilentNeuronBump) {
  auto run = [](const std::string& name, double bump, double below) {
    Config cfg = load_config(
        kSource + "/configs/yinyang.toml",
        {"train.epochs=1", "data.n_train=150", "data.n_valid=50", "data.n_test=50",
         "network.connection.0.weight_init.mean=1.5", "optimizer.lr_weights=0", "optimizer.lr_delays=0",
         "train.output_bump=0", "train.silent_bump=" + std::to_string(bump),
         "train.silent_below=" + std::to_string(below)});
    const auto [dir, epochs] = train_epochs(cfg, "silent_below_" + name);
    const auto hidden = epochs.back()["activity"]["hidden"];
    return std::make_tuple(final_params(dir), double(hidden["silent_fraction"]), double(hidden["spikes_per_neuron"]));
  };
  const Config cfg = load_config(kSource + "/configs/yinyang.toml");
  const Connection& in_hidden = cfg.net.conns.at(0);
  const uint32_t n_hidden = in_hidden.n_post;
  // Hidden neurons whose incoming weights all moved by the bump (0.25) against the run without.
  auto bumped = [&](const std::vector<double>& p, const std::vector<double>& base) {
    uint32_t n = 0;
    for (uint32_t j = 0; j < n_hidden; ++j) {
      uint32_t moved = 0;
      for (uint32_t i = 0; i < in_hidden.n_pre; ++i) {
        const size_t k = in_hidden.weight_offset + size_t(i) * n_hidden + j;
        moved += std::abs(p[k] - base[k] - 0.25) < 1e-12;
      }
      EXPECT_TRUE(moved == 0 || moved == in_hidden.n_pre) << "neuron " << j << ": bumped on some inputs only";
      n += moved == in_hidden.n_pre;
    }
    const Connection& out = cfg.net.conns.at(1);
    for (size_t k = out.weight_offset; k < out.weight_offset + out.n_synapses(); ++k)
      EXPECT_EQ(p[k], base[k]) << "the output connection is not bumped";
    return n;
  };
  // Thresholds: 0, the hidden layer's mean rate (some neurons fire less, some more), and above all.
  const auto [base, silent_fraction, mean_rate] = run("none", 0.0, 0.0);
  const uint32_t n_zero = bumped(std::get<0>(run("zero", 0.25, 0.0)), base),
                 n_half = bumped(std::get<0>(run("mean", 0.25, mean_rate)), base),
                 n_all = bumped(std::get<0>(run("all", 0.25, 1e9)), base);
  std::cout << "hidden neurons bumped: silent_below 0: " << n_zero << ", " << mean_rate
            << " (the mean rate): " << n_half << ", 1e9: " << n_all << " of " << n_hidden << "\n";
  EXPECT_EQ(n_zero, uint32_t(std::lround(silent_fraction * n_hidden))) << "silent_below 0: exactly the silent neurons";
  EXPECT_GT(n_half, n_zero);
  EXPECT_LT(n_half, n_hidden);
  EXPECT_EQ(n_all, n_hidden);
}

// optimizer.delays_from_epoch holds every delay for that many epochs (the weights learn as
// usual), then lets them learn at the scheduled rate.
TEST(Train, DelaysFromEpochHoldsTheDelaysThenLearnsThem) {
  auto run = [](const std::string& name, uint32_t epochs, const std::string& delays) {
    Config cfg = load_config(kSource + "/configs/yinyang.toml",
                             {"train.epochs=" + std::to_string(epochs), "data.n_train=150", "data.n_valid=50",
                              "data.n_test=50", "train.seed=3", delays});
    const auto [dir, lines] = train_epochs(cfg, "delays_from_" + name);
    std::vector<double> lr_d;
    for (const auto& e : lines) lr_d.push_back(e["lr_delays"]);
    return std::make_pair(final_params(dir), lr_d);
  };
  const Config cfg = load_config(kSource + "/configs/yinyang.toml");
  const auto [held, held_lr] = run("held", 2, "optimizer.delays_from_epoch=2");
  const auto [frozen, frozen_lr] = run("frozen", 2, "optimizer.lr_delays=0");
  const auto [late, late_lr] = run("late", 3, "optimizer.delays_from_epoch=2");
  EXPECT_EQ(held, frozen) << "two held epochs train exactly as a delay learning rate of 0";
  ASSERT_EQ(late_lr.size(), 3u);
  EXPECT_EQ(late_lr[0], 0.0);
  EXPECT_EQ(late_lr[1], 0.0);
  EXPECT_EQ(late_lr[2], cfg.sched.delay_lr(2));
  EXPECT_GT(late_lr[2], 0.0);
  size_t moved = 0, n = 0;
  for (const Connection& c : cfg.net.conns)
    for (size_t k = c.delay_offset; k < c.delay_offset + c.n_synapses(); ++k, ++n) moved += late[k] != held[k];
  std::cout << "delays moved in the first epoch after the hold: " << moved << " of " << n << "\n";
  EXPECT_GT(moved, n / 2) << "the third epoch learns the delays";
}
