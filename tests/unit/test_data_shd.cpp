// SHD/SSC loaders on fixtures written in the exact published layout (vlen float16 seconds,
// vlen uint16 units, uint16 labels/speakers, byte-string keys), and their errors.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <filesystem>
#include <fstream>
#include <set>

#include "io/data/dataset.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "test_networks.hpp"

using namespace delayprop;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::vector<std::vector<double>> times_s;  // exactly representable in float16
  std::vector<std::vector<uint16_t>> units;
  std::vector<uint16_t> labels;
  std::vector<uint16_t> speakers;
};

hid_t half_type() {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_ebias(t, 15);
  return t;
}

hid_t lcpl() {
  hid_t p = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(p, 1);
  return p;
}

template <typename T>
void write_vlen(hid_t f, const char* name, hid_t file_base, hid_t mem_base, const std::vector<std::vector<T>>& rows) {
  std::vector<hvl_t> h(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) h[i] = {rows[i].size(), const_cast<T*>(rows[i].data())};
  hid_t ft = H5Tvlen_create(file_base), mt = H5Tvlen_create(mem_base);
  hsize_t n = rows.size();
  hid_t sp = H5Screate_simple(1, &n, nullptr), lp = lcpl();
  hid_t d = H5Dcreate2(f, name, ft, sp, lp, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, h.data()), 0);
  H5Dclose(d), H5Sclose(sp), H5Pclose(lp), H5Tclose(ft), H5Tclose(mt);
}

void write_plain(hid_t f, const char* name, hid_t file_type, hid_t mem_type, const void* data,
                 std::vector<hsize_t> dims) {
  hid_t sp = H5Screate_simple(int(dims.size()), dims.data(), nullptr), lp = lcpl();
  hid_t d = H5Dcreate2(f, name, file_type, sp, lp, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(d), H5Sclose(sp), H5Pclose(lp);
}

// What to leave out or break when writing a fixture.
struct Faults {
  bool no_units = false;
  bool times_not_vlen = false;
  bool labels_2d = false;
  bool short_labels = false;
};

// Writes `fx` in the published SHD/SSC layout.
void write_published(const std::string& path, const Fixture& fx, uint32_t n_classes, Faults faults = {}) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t h = half_type();
  if (faults.times_not_vlen) {
    std::vector<double> flat{0.1, 0.2};
    write_plain(f, "/spikes/times", h, H5T_NATIVE_DOUBLE, flat.data(), {2});
  } else {
    write_vlen(f, "/spikes/times", h, H5T_NATIVE_DOUBLE, fx.times_s);
  }
  if (!faults.no_units) write_vlen(f, "/spikes/units", H5T_STD_U16LE, H5T_NATIVE_UINT16, fx.units);
  const hsize_t n = faults.short_labels ? fx.labels.size() - 1 : fx.labels.size();
  if (faults.labels_2d)
    write_plain(f, "/labels", H5T_STD_U16LE, H5T_NATIVE_UINT16, fx.labels.data(), {1, n});
  else
    write_plain(f, "/labels", H5T_STD_U16LE, H5T_NATIVE_UINT16, fx.labels.data(), {n});
  write_plain(f, "/extra/speaker", H5T_STD_U16LE, H5T_NATIVE_UINT16, fx.speakers.data(), {n});
  // Class names as fixed-length byte strings, as published.
  std::vector<char> keys(size_t(n_classes) * 8, 0);
  for (uint32_t k = 0; k < n_classes; ++k) snprintf(&keys[k * 8], 8, "key%u", k);
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 8);
  write_plain(f, "/extra/keys", st, st, keys.data(), {n_classes});
  H5Tclose(st), H5Tclose(h), H5Fclose(f);
}

Fixture make_fixture(size_t n, uint32_t n_classes, uint64_t seed) {
  Fixture fx;
  Rng rng(seed);
  const int speakers[] = {0, 1, 2, 3, 6, 7, 8, 9, 10, 11};
  for (size_t i = 0; i < n; ++i) {
    const size_t m = 1 + rng.below(40);
    std::vector<double> t;
    std::vector<uint16_t> u;
    for (size_t e = 0; e < m; ++e) {
      t.push_back(double(rng.below(1100)) / 1024.0);  // up to ~1.07 s: some events after a 1 s trial
      u.push_back(uint16_t(rng.below(700)));
    }
    std::sort(t.begin(), t.end());
    fx.times_s.push_back(t);
    fx.units.push_back(u);
    fx.labels.push_back(uint16_t(i % n_classes));
    fx.speakers.push_back(uint16_t(speakers[i % 10]));
  }
  return fx;
}

Network make_net(uint32_t inputs, uint32_t classes) { return testutil::input_output_net(inputs, classes, 1.0, 1000); }

// A fresh directory per test.
std::string temp_dir(const std::string& name) {
  const fs::path p = fs::path(DELAYPROP_BINARY_DIR) / "test_data_tmp" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// Reads a vlen dataset with HDF5's own conversion to double: the direct reading the loader is
// compared with.
std::vector<std::vector<double>> direct_read(const std::string& path, const char* name) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t n;
  H5Sget_simple_extent_dims(sp, &n, nullptr);
  hid_t mt = H5Tvlen_create(H5T_NATIVE_DOUBLE);
  std::vector<hvl_t> raw(n);
  H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data());
  std::vector<std::vector<double>> out(n);
  for (size_t i = 0; i < n; ++i) out[i].assign((double*)raw[i].p, (double*)raw[i].p + raw[i].len);
  H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw.data());
  H5Tclose(mt), H5Sclose(sp), H5Dclose(d), H5Fclose(f);
  return out;
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(DataShd, PublishedLayoutMatchesDirectReading) {
  const std::string dir = temp_dir("shd_ok");
  const Fixture tr = make_fixture(30, 20, 1), te = make_fixture(12, 20, 2);
  write_published(dir + "/shd_train.h5", tr, 20);
  write_published(dir + "/shd_test.h5", te, 20);
  DataSpec spec;
  spec.kind = "shd";
  spec.path = dir;
  const Network net = make_net(700, 20);
  DataSplits d = load_dataset(spec, net);
  EXPECT_FALSE(d.has_valid);  // SHD: no validation split by default
  ASSERT_EQ(d.train.samples.size(), 30u);
  ASSERT_EQ(d.test.samples.size(), 12u);
  EXPECT_EQ(d.train.n_channels, 700u);
  EXPECT_EQ(d.train.n_classes, 20u);
  EXPECT_TRUE(d.train.merge_duplicates);
  const auto times = direct_read(dir + "/shd_train.h5", "/spikes/times");
  const auto units = direct_read(dir + "/shd_train.h5", "/spikes/units");
  for (size_t i = 0; i < 30; ++i) {
    const auto& s = d.train.samples[i];
    ASSERT_EQ(s.times_ms.size(), tr.times_s[i].size());
    for (size_t e = 0; e < s.times_ms.size(); ++e) {
      EXPECT_EQ(s.times_ms[e], times[i][e] * 1000.0);
      EXPECT_EQ(s.times_ms[e], tr.times_s[i][e] * 1000.0);
      EXPECT_EQ(s.units[e], uint32_t(units[i][e]));
      EXPECT_EQ(s.units[e], tr.units[i][e]);
    }
    EXPECT_EQ(s.label, tr.labels[i]);
    EXPECT_EQ(s.speaker, tr.speakers[i]);
  }

  // Batching: one spike per (channel, 1 ms step); events after 1000 ms counted as dropped.
  std::vector<uint32_t> idx(30);
  std::iota(idx.begin(), idx.end(), 0u);
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  make_batch(d.train, idx, net, b, labels, st);
  uint64_t events = 0, late = 0;
  std::set<std::pair<int, int>> distinct;
  uint64_t want_spikes = 0;
  for (size_t i = 0; i < 30; ++i) {
    distinct.clear();
    for (size_t e = 0; e < tr.times_s[i].size(); ++e) {
      ++events;
      const int step = int(std::floor(tr.times_s[i][e] * 1000.0));
      if (step >= 1000) ++late;
      else distinct.insert({step, tr.units[i][e]});
    }
    want_spikes += distinct.size();
  }
  EXPECT_GT(late, 0u);
  uint64_t late_all = 0;  // over train and test, as load_dataset reports it
  for (const auto* f : {&tr, &te})
    for (const auto& row : f->times_s)
      for (double t : row) late_all += t * 1000.0 >= 1000.0;
  EXPECT_EQ(d.dropped_events, late_all);
  EXPECT_NE(d.description.find("will be dropped"), std::string::npos) << d.description;
  EXPECT_EQ(st.events, events);
  EXPECT_EQ(st.dropped_late, late);
  EXPECT_EQ(st.spikes, want_spikes);
  EXPECT_EQ(st.merged, events - late - want_spikes);
  EXPECT_EQ(b.steps.size(), want_spikes);
}

TEST(DataShd, Float16DecodingMatchesHdf5ForEveryValue) {
  // Every finite non-negative float16 value, written as raw bits with the file's half type.
  const std::string dir = temp_dir("half");
  std::vector<uint16_t> bits;
  for (uint32_t b = 0; b < 0x7c00; ++b) bits.push_back(uint16_t(b));
  hid_t f = H5Fcreate((dir + "/h.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t h = half_type();
  write_vlen(f, "/spikes/times", h, h, std::vector<std::vector<uint16_t>>{bits});
  std::vector<std::vector<uint16_t>> u{std::vector<uint16_t>(bits.size(), 3)};
  write_vlen(f, "/spikes/units", H5T_STD_U16LE, H5T_NATIVE_UINT16, u);
  uint16_t label = 0;
  write_plain(f, "/labels", H5T_STD_U16LE, H5T_NATIVE_UINT16, &label, {1});
  H5Tclose(h), H5Fclose(f);
  const EventDataset d = read_events(dir + "/h.h5");
  const auto direct = direct_read(dir + "/h.h5", "/spikes/times");
  ASSERT_EQ(d.samples.size(), 1u);
  ASSERT_EQ(d.samples[0].times_ms.size(), direct[0].size());
  size_t bad = 0;
  for (size_t e = 0; e < direct[0].size(); ++e) bad += d.samples[0].times_ms[e] != direct[0][e] * 1000.0;
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(d.samples[0].times_ms[0x3c00], 1000.0);  // 1.0 s
  EXPECT_EQ(d.samples[0].times_ms[0x7bff], 65504.0 * 1000.0);  // the largest float16: no overflow
}

TEST(DataShd, SscUsesPublishedValidationSplit) {
  const std::string dir = temp_dir("ssc_ok");
  write_published(dir + "/ssc_train.h5", make_fixture(70, 35, 3), 35);
  write_published(dir + "/ssc_valid.h5", make_fixture(35, 35, 4), 35);
  write_published(dir + "/ssc_test.h5", make_fixture(36, 35, 5), 35);
  DataSpec spec;
  spec.kind = "ssc";
  spec.path = dir;
  const Network net = make_net(700, 35);
  DataSplits d = load_dataset(spec, net);
  EXPECT_TRUE(d.has_valid);
  EXPECT_EQ(d.train.samples.size(), 70u);
  EXPECT_EQ(d.valid.samples.size(), 35u);
  EXPECT_EQ(d.test.samples.size(), 36u);

  // n_train etc. limit file datasets (smoke runs).
  spec.n_train = 10;
  EXPECT_EQ(load_dataset(spec, net).train.samples.size(), 10u);
  spec.n_train = 0;

  // SSC has 35 classes: a 20-output network is refused with a clear message.
  const std::string e = error_of([&] { load_dataset(spec, make_net(700, 20)); });
  EXPECT_TRUE(has(e, "35 classes") && has(e, "20 neurons")) << e;
  // sum_channels 5: 700 channels feed 140 inputs.
  spec.sum_channels = 5;
  DataSplits s5 = load_dataset(spec, make_net(140, 35));
  EXPECT_EQ(s5.train.sum_channels, 5u);
  const std::string e2 = error_of([&] { load_dataset(spec, make_net(700, 35)); });
  EXPECT_TRUE(has(e2, "140 after data.sum_channels = 5")) << e2;
}

TEST(DataShd, ValidationOptions) {
  const std::string dir = temp_dir("shd_valid");
  write_published(dir + "/shd_train.h5", make_fixture(200, 20, 6), 20);
  write_published(dir + "/shd_test.h5", make_fixture(20, 20, 7), 20);
  DataSpec spec;
  spec.kind = "shd";
  spec.path = dir;
  const Network net = make_net(700, 20);

  spec.validation = "speakers";
  spec.valid_fraction = 0.15;
  DataSplits d = load_dataset(spec, net);
  ASSERT_TRUE(d.has_valid);
  // Speakers 11 and 10 hold 2 x 20 of the 200 samples: 11 alone (10 %) is below 15 %.
  EXPECT_EQ(d.valid_speakers, (std::vector<int32_t>{10, 11}));
  EXPECT_EQ(d.valid.samples.size(), 40u);
  EXPECT_EQ(d.train.samples.size(), 160u);
  for (const auto& s : d.train.samples) EXPECT_TRUE(s.speaker != 10 && s.speaker != 11);
  for (const auto& s : d.valid.samples) EXPECT_TRUE(s.speaker == 10 || s.speaker == 11);

  spec.validation = "split";
  spec.valid_fraction = 0.1;
  spec.seed = 3;
  d = load_dataset(spec, net);
  ASSERT_TRUE(d.has_valid);
  EXPECT_EQ(d.valid.samples.size(), 20u);  // 10 per class, 1 of each held out
  std::vector<int> per_class(20, 0);
  for (const auto& s : d.valid.samples) ++per_class[size_t(s.label)];
  EXPECT_EQ(per_class, std::vector<int>(20, 1));
  const auto first = d.valid.samples;
  d = load_dataset(spec, net);
  ASSERT_EQ(d.valid.samples.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(d.valid.samples[i].times_ms, first[i].times_ms);
  spec.seed = 4;
  d = load_dataset(spec, net);
  bool differs = false;
  for (size_t i = 0; i < first.size(); ++i) differs |= d.valid.samples[i].times_ms != first[i].times_ms;
  EXPECT_TRUE(differs);

  spec.validation = "bogus";
  EXPECT_TRUE(has(error_of([&] { load_dataset(spec, net); }), "data.validation"));
}

TEST(DataShd, BadFilesGiveErrorsNamingFileAndField) {
  const std::string dir = temp_dir("shd_bad");
  const Fixture fx = make_fixture(8, 20, 8);
  const Network net = make_net(700, 20);
  DataSpec spec;
  spec.kind = "shd";
  spec.path = dir;
  const std::string train = dir + "/shd_train.h5", test = dir + "/shd_test.h5";
  write_published(test, fx, 20);

  // Missing file, and a compressed download not yet unpacked.
  std::string e = error_of([&] { load_dataset(spec, net); });
  EXPECT_TRUE(has(e, train) && has(e, "no such file")) << e;
  std::ofstream(train + ".gz") << "x";
  e = error_of([&] { load_dataset(spec, net); });
  EXPECT_TRUE(has(e, "gunzip")) << e;

  auto expect_error = [&](const char* what, const std::vector<std::string>& parts) {
    SCOPED_TRACE(what);
    const std::string msg = error_of([&] { load_dataset(spec, net); });
    EXPECT_TRUE(has(msg, train)) << msg;
    for (const auto& p : parts) EXPECT_TRUE(has(msg, p)) << msg;
  };

  write_published(train, fx, 20);
  std::vector<char> bytes;
  {
    std::ifstream in(train, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  {  // truncated
    std::ofstream out(train, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size() / 2));
  }
  expect_error("truncated", {});
  {  // corrupted signature
    auto b = bytes;
    for (size_t i = 0; i < 8; ++i) b[i] = char(0x55);
    std::ofstream out(train, std::ios::binary | std::ios::trunc);
    out.write(b.data(), std::streamsize(b.size()));
  }
  expect_error("corrupted", {"HDF5"});
  {  // corrupted bytes in the body: an error or a clean read, never a crash
    auto b = bytes;
    for (size_t i = b.size() / 3; i < b.size() / 3 + 64; ++i) b[i] = char(0xff);
    std::ofstream out(train, std::ios::binary | std::ios::trunc);
    out.write(b.data(), std::streamsize(b.size()));
  }
  try {
    load_dataset(spec, net);
  } catch (const Error& err) {
    EXPECT_TRUE(has(err.what(), train)) << err.what();
  }

  write_published(train, fx, 20, Faults{.no_units = true});
  expect_error("missing units", {"'/spikes/units'", "missing"});
  write_published(train, fx, 20, Faults{.times_not_vlen = true});
  expect_error("times not vlen", {"'/spikes/times'", "variable-length"});
  write_published(train, fx, 20, Faults{.labels_2d = true});
  expect_error("labels 2-D", {"'/labels'", "one-dimensional"});
  write_published(train, fx, 20, Faults{.short_labels = true});
  expect_error("labels short", {"'/labels'", "7 entries"});

  Fixture bad_label = fx;
  bad_label.labels[3] = 20;
  write_published(train, bad_label, 20);
  expect_error("label out of range", {"'/labels' entry 3", "20", "[0, 20)"});

  Fixture bad_unit = fx;
  bad_unit.units[2][0] = 700;
  write_published(train, bad_unit, 20);
  expect_error("unit out of range", {"'/spikes/units' sample 2", "700", "[0, 700)"});

  Fixture ragged = fx;
  ragged.units[1].push_back(5);
  write_published(train, ragged, 20);
  expect_error("ragged", {"sample 1"});
}

TEST(DataShd, EventsKindRoundTrip) {
  const std::string dir = temp_dir("events");
  EventDataset d;
  d.n_channels = 3;
  d.n_classes = 2;
  for (int i = 0; i < 6; ++i) {
    EventSample s;
    s.times_ms = {0.25 * i, 1.5, 3.0};
    s.units = {0, 2, uint32_t(i % 3)};
    s.label = i % 2;
    d.samples.push_back(s);
  }
  write_events(dir + "/train.h5", d, "ms");
  write_events(dir + "/test.h5", d, "s");
  DataSpec spec;
  spec.kind = "events";
  spec.path = dir;
  Network net = make_net(3, 2);
  DataSplits s = load_dataset(spec, net);
  EXPECT_FALSE(s.has_valid);  // no valid.h5
  ASSERT_EQ(s.train.samples.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(s.train.samples[i].times_ms, d.samples[i].times_ms);
    EXPECT_EQ(s.train.samples[i].units, d.samples[i].units);
    for (size_t e = 0; e < 3; ++e) EXPECT_NEAR(s.test.samples[i].times_ms[e], d.samples[i].times_ms[e], 1e-12);
  }
  write_events(dir + "/valid.h5", d, "ms");
  EXPECT_TRUE(load_dataset(spec, net).has_valid);
  // The file says 3 channels; a 4-input network is refused, naming the attribute.
  const std::string e = error_of([&] { load_dataset(spec, make_net(4, 2)); });
  EXPECT_TRUE(has(e, "n_channels") && has(e, "train.h5")) << e;
}
