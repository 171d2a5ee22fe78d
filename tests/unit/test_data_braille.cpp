// The Braille converter's output (tools/braille_convert.py on the real recordings) read by
// the C++ loader. Run by the ctest data_braille_load after data_braille_convert, which sets
// DELAYPROP_BRAILLE_DIR; skipped otherwise.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "io/data/dataset.hpp"
#include "core/error.hpp"
#include "test_networks.hpp"

using namespace delayprop;

TEST(DataBraille, ConvertedRealRecordings) {
  const char* dir = std::getenv("DELAYPROP_BRAILLE_DIR");
  if (!dir || !std::filesystem::exists(std::string(dir) + "/train.h5"))
    GTEST_SKIP() << "no converted Braille data (ctest data_braille_convert sets DELAYPROP_BRAILLE_DIR)";
  const Network net = testutil::input_output_net(24, 27, 1.0, 2000);
  DataSpec spec;
  spec.kind = "braille";
  spec.path = dir;
  spec.threshold = 5;
  DataSplits d = load_dataset(spec, net);
  ASSERT_TRUE(d.has_valid);
  EXPECT_EQ(d.train.samples.size(), 945u);
  EXPECT_EQ(d.valid.samples.size(), 135u);
  EXPECT_EQ(d.test.samples.size(), 270u);
  EXPECT_EQ(d.train.n_channels, 24u);
  EXPECT_EQ(d.train.n_classes, 27u);
  EXPECT_TRUE(d.train.merge_duplicates);
  for (const EventDataset* e : {&d.train, &d.valid, &d.test}) {
    std::vector<int> per_class(27, 0);
    uint64_t events = 0;
    for (const auto& s : e->samples) {
      ++per_class.at(size_t(s.label));
      events += s.times_ms.size();
      for (size_t k = 0; k < s.times_ms.size(); ++k) {
        EXPECT_LE(s.times_ms[k], 1925.0);  // 77 samples at 40 Hz
        if (k) {
          EXPECT_LE(s.times_ms[k - 1], s.times_ms[k]);
        }
      }
    }
    const int want = int(e->samples.size() / 27);
    EXPECT_EQ(per_class, std::vector<int>(27, want));
    EXPECT_GT(events, 0u);
  }
  // All 2000 steps hold every event: nothing dropped.
  std::vector<uint32_t> idx(d.train.samples.size());
  for (uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  make_batch(d.train, idx, net, b, labels, st);
  EXPECT_EQ(st.dropped_late, 0u);
  EXPECT_EQ(st.spikes + st.merged, st.events);

  spec.threshold = 2;  // the files were converted with 5
  try {
    load_dataset(spec, net);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("threshold"), std::string::npos) << e.what();
  }
}
