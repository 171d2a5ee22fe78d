// A task that needs delays (configs/delay_order.toml): learnt delays solve it, the same
// network with its delays kept where they start does not, on every seed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/config.hpp"
#include "io/data/generators.hpp"
#include "train/train.hpp"

using namespace delayprop;
namespace fs = std::filesystem;

TEST(DelayOrder, SamplesHoldAPair30msApartAndOneDistractorPerChannel) {
  const EventDataset d = make_delay_order_dataset(7, 50);
  ASSERT_EQ(d.samples.size(), 50u);
  for (size_t i = 0; i < d.samples.size(); ++i) {
    const auto& s = d.samples[i];
    ASSERT_EQ(s.times_ms.size(), 4u);
    EXPECT_EQ(s.label, int32_t(i % 2));
    EXPECT_EQ(s.units[0], uint32_t(s.label)) << "the pair starts on the channel of the label";
    EXPECT_EQ(s.units[1], 1u - uint32_t(s.label));
    EXPECT_GE(s.times_ms[0], 0.0);
    EXPECT_LT(s.times_ms[0], 20.0);
    EXPECT_GE(s.times_ms[1] - s.times_ms[0], 28.5);
    EXPECT_LE(s.times_ms[1] - s.times_ms[0], 31.5);
  }
  EXPECT_NE(make_delay_order_dataset(8, 50).samples[0].times_ms, d.samples[0].times_ms);
}

TEST(DelayOrder, LearntDelaysBeatFixedDelaysOnEverySeed) {
  auto test_accuracy = [](uint64_t seed, bool learn_delays) {
    const Config cfg = load_config(std::string(DELAYPROP_SOURCE_DIR) + "/configs/delay_order.toml",
                                   {"train.seed=" + std::to_string(seed),
                                    std::string("network.connection.0.learn_delays=") +
                                        (learn_delays ? "true" : "false")});
    const fs::path dir = fs::temp_directory_path() / ("delayprop_delay_order_" + std::to_string(seed) +
                                                      (learn_delays ? "_learnt_" : "_fixed_") +
                                                      std::to_string(::getpid()));
    fs::remove_all(dir);
    auto comm = dist::make_local_communicator();
    TrainOptions opt;
    opt.out_dir = dir.string();
    opt.progress = false;
    const double acc = nlohmann::json::parse(train(cfg, *comm, opt))["test_accuracy"];
    fs::remove_all(dir);
    return acc;
  };
  for (uint64_t seed : {1, 2, 3}) {
    const double learnt = test_accuracy(seed, true), fixed = test_accuracy(seed, false);
    std::cout << "seed " << seed << ": test accuracy with learnt delays " << learnt << ", with fixed delays "
              << fixed << "\n";
    EXPECT_GE(learnt, 0.9) << "seed " << seed;
    EXPECT_LE(fixed, 0.7) << "seed " << seed;
  }
}
