// The training loop: the sequence task is learned, and resume after kill -9 is bit-exact.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
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
// 7 + patience epochs.
TEST(Train, WarmUpEpochsAreNeitherKeptNorCountedByPatience) {
  auto run = [](uint32_t min_epochs) {
    Config cfg = load_config(kSource + "/configs/sequence.toml");
    cfg.train.epochs = 20;
    cfg.train.patience = 2;
    cfg.train.early_stop = "train";
    cfg.train.min_epochs = min_epochs;
    auto comm = dist::make_local_communicator();
    TrainOptions opt;
    opt.out_dir = temp_dir("warm_up_" + std::to_string(min_epochs));
    opt.progress = false;
    return nlohmann::json::parse(train(cfg, *comm, opt));
  };
  const auto plain = run(0), warm = run(6);
  std::cout << "no warm-up: kept epoch " << plain["best_epoch"] << " of " << plain["epochs"]
            << "; 6 warm-up epochs: kept " << warm["best_epoch"] << " of " << warm["epochs"] << "\n";
  ASSERT_LE(int(plain["best_epoch"]), 6) << "the control run must keep an early epoch for this test to mean anything";
  EXPECT_GE(int(warm["best_epoch"]), 7);
  EXPECT_GE(int(warm["epochs"]), int(warm["best_epoch"]) + 2);
}
