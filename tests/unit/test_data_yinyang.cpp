// The Yin-Yang generator against MODEL.md §8's check values and, when present, the published
// splits (shared/data/yinyang/*.npy) bit for bit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/data/dataset.hpp"
#include "io/data/generators.hpp"
#include "core/error.hpp"
#include "test_networks.hpp"

using namespace delayprop;

namespace {

// A minimal .npy reader: version 1/2 headers, little-endian float64 ('<f8') or int64 ('<i8'),
// C order. Returns the raw 8-byte elements and the shape.
struct Npy {
  std::string descr;
  std::vector<uint64_t> shape;
  std::vector<char> bytes;
  template <typename T>
  std::vector<T> as() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
  }
};

Npy read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(bool(in), path, ": cannot open");
  char magic[8];
  in.read(magic, 8);
  require(in && std::memcmp(magic, "\x93NUMPY", 6) == 0, path, ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    hlen = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  }
  std::string header(hlen, '\0');
  in.read(header.data(), hlen);
  require(bool(in), path, ": truncated header");
  Npy n;
  auto field = [&](const std::string& key) {
    const auto p = header.find("'" + key + "'");
    require(p != std::string::npos, path, ": header lacks ", key);
    return header.substr(header.find(':', p) + 1);
  };
  const std::string d = field("descr");
  n.descr = d.substr(d.find('\'') + 1, 3);
  require(n.descr == "<f8" || n.descr == "<i8", path, ": unsupported dtype ", n.descr);
  require(field("fortran_order").find("False") < 8, path, ": Fortran order not supported");
  std::string s = field("shape");
  s = s.substr(s.find('(') + 1, s.find(')') - s.find('(') - 1);
  uint64_t count = 1;
  for (size_t pos = 0; pos < s.size();) {
    const size_t comma = s.find(',', pos);
    const std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) {
      n.shape.push_back(std::stoull(tok));
      count *= n.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  n.bytes.resize(count * 8);
  in.read(n.bytes.data(), std::streamsize(n.bytes.size()));
  require(in.gcount() == std::streamsize(n.bytes.size()), path, ": truncated data");
  return n;
}

// shared/data: $DELAYPROP_DATA_DIR, else a shared/ beside the repository (CI) or beside the
// worktree directory (development checkouts under wt/). Empty if none exists.
std::string shared_data_dir() {
  if (const char* e = std::getenv("DELAYPROP_DATA_DIR")) return e;
  for (const char* rel : {"/../shared/data", "/../../shared/data"}) {
    const std::string p = std::string(DELAYPROP_SOURCE_DIR) + rel;
    if (std::filesystem::is_directory(p)) return p;
  }
  return "";
}

}  // namespace

TEST(DataYinYang, SpecCheckValues) {
  auto tr = generate_yinyang(42, 5000);
  ASSERT_EQ(tr.samples.size(), 20000u);
  EXPECT_EQ(tr.samples[0], 0.6803075385877797);
  EXPECT_EQ(tr.samples[1], 0.450499251969543);
  EXPECT_EQ(tr.samples[2], 1.0 - 0.6803075385877797);
  EXPECT_EQ(tr.samples[3], 1.0 - 0.450499251969543);
  EXPECT_EQ(tr.labels[0], 2);
  EXPECT_EQ(tr.samples[4], 0.09767211400638387);
  EXPECT_EQ(tr.samples[5], 0.6842330265121569);
  EXPECT_EQ(tr.labels[1], 1);
  auto counts = [](const YinYangSplit& s) {
    std::vector<int> c(3, 0);
    for (auto l : s.labels) ++c.at(size_t(l));
    return c;
  };
  EXPECT_EQ(counts(tr), (std::vector<int>{1681, 1702, 1617}));
  EXPECT_EQ(counts(generate_yinyang(41, 1000)), (std::vector<int>{316, 336, 348}));
  EXPECT_EQ(counts(generate_yinyang(40, 1000)), (std::vector<int>{350, 316, 334}));
}

TEST(DataYinYang, MatchesPublishedSplitsBitForBit) {
  const std::string dir = shared_data_dir();
  if (dir.empty() || !std::filesystem::exists(dir + "/yinyang/train_samples.npy"))
    GTEST_SKIP() << "shared/data/yinyang not found (set DELAYPROP_DATA_DIR)";
  for (auto [name, seed, n] : {std::tuple{"train", 42u, 5000u}, {"validation", 41u, 1000u}, {"test", 40u, 1000u}}) {
    SCOPED_TRACE(name);
    const Npy xs = read_npy(dir + "/yinyang/" + name + "_samples.npy");
    const Npy ys = read_npy(dir + "/yinyang/" + name + "_labels.npy");
    ASSERT_EQ(xs.descr, "<f8");
    ASSERT_EQ(ys.descr, "<i8");
    ASSERT_EQ(xs.shape, (std::vector<uint64_t>{n, 4}));
    ASSERT_EQ(ys.shape, (std::vector<uint64_t>{n}));
    const auto g = generate_yinyang(seed, n);
    const auto want_x = xs.as<double>();
    const auto want_y = ys.as<int64_t>();
    ASSERT_EQ(g.samples.size(), want_x.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < want_x.size(); ++i)
      mismatches += std::memcmp(&g.samples[i], &want_x[i], sizeof(double)) != 0;
    EXPECT_EQ(mismatches, 0u);
    EXPECT_EQ(g.labels, want_y);
  }
}

TEST(DataYinYang, SpikeEncodingAndLoader) {
  const auto split = generate_yinyang(42, 3);
  const EventDataset ev = yinyang_events(split);
  ASSERT_EQ(ev.samples.size(), 3u);
  EXPECT_EQ(ev.n_channels, 4u);
  EXPECT_EQ(ev.n_classes, 3u);
  EXPECT_FALSE(ev.merge_duplicates);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(ev.samples[i].units, (std::vector<uint32_t>{0, 1, 2, 3}));
    EXPECT_EQ(ev.samples[i].label, split.labels[i]);
    for (size_t k = 0; k < 4; ++k) EXPECT_EQ(ev.samples[i].times_ms[k], 1.5 + 18.5 * split.samples[i * 4 + k]);
  }

  Network net = testutil::input_output_net(4, 3, 0.005, 6000, PopKind::LIF, Readout::FirstSpike);
  DataSpec spec;
  spec.kind = "yinyang";
  spec.n_train = 10;
  spec.n_valid = 7;
  spec.n_test = 5;
  DataSplits d = load_dataset(spec, net);
  EXPECT_EQ(d.train.samples.size(), 10u);
  EXPECT_TRUE(d.has_valid);
  EXPECT_EQ(d.valid.samples.size(), 7u);
  EXPECT_EQ(d.test.samples.size(), 5u);
  EXPECT_EQ(d.train.samples[0].times_ms[0], 1.5 + 18.5 * 0.6803075385877797);
  EXPECT_EQ(d.valid.samples[0].label, generate_yinyang(41, 1).labels[0]);
  EXPECT_EQ(d.test.samples[0].label, generate_yinyang(40, 1).labels[0]);

  // Every event becomes its own spike: four per sample.
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  std::vector<uint32_t> idx{0, 1, 2};
  make_batch(d.train, idx, net, b, labels, st);
  EXPECT_EQ(b.steps.size(), 12u);
  EXPECT_EQ(st.spikes, 12u);
  EXPECT_EQ(st.merged, 0u);

  spec.validation = "none";
  EXPECT_FALSE(load_dataset(spec, net).has_valid);

  // Three inputs for four channels: a clear error.
  net.pops[0].size = 3;
  net.finalize();
  spec.validation = "default";
  try {
    load_dataset(spec, net);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 input channels"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3 input neurons"), std::string::npos) << e.what();
  }
}
