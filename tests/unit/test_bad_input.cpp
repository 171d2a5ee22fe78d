// Bad input is an error that names the offending item, never a crash or a silent fix:
// at library level (exceptions) and at driver level (delayprop-grad exits non-zero with one
// message on stderr, never by a signal).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "io/data/events.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "kernels/factory.hpp"
#include "grad_test_util.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

const std::string kConfig = std::string(testutil::kSmallNetworkToml) + R"([engine]
precision = "float64"
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  if (at == std::string::npos) throw std::runtime_error("test config has no '" + from + "'");
  return s.replace(at, from.size(), to);
}

// fn must throw delayprop::Error whose message contains every part.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one naming " << ::testing::PrintToString(parts);
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

Config good_config() { return parse_config(kConfig, "bad_input.toml"); }

SpikeBatch one_sample(const Network& net, std::vector<double> t, std::vector<uint32_t> c) {
  SpikeBatch b;
  const std::vector<double> t0{1.0, 2.0};
  const std::vector<uint32_t> c0{0, 1};
  b.add_sample(t0, c0, net.dt);  // a good sample first: errors must name sample 1
  b.add_sample(t, c, net.dt);
  return b;
}

// ---- library level ------------------------------------------------------------------------

TEST(BadInputLibrary, NegativeOrNanDelays) {
  const Config cfg = good_config();
  auto engine = make_engine(cfg.net, cfg.engine);
  const SpikeBatch batch = one_sample(cfg.net, {1.0}, {0});
  ForwardOutputs out;
  const auto& hid_out = cfg.net.conns[1];
  auto p = init_params(cfg.net, 1);
  p[hid_out.delay_offset + 1 * 2 + 0] = -0.5;
  expect_error([&] { engine->forward(p, batch, out); }, {"hid_out", "delay [1,0]", "-0.5"});
  p = init_params(cfg.net, 1);
  p[cfg.net.conns[0].delay_offset + 2] = std::nan("");
  expect_error([&] { engine->forward(p, batch, out); }, {"in_hid", "delay [0,2]", "nan"});
  p = init_params(cfg.net, 1);
  p[cfg.net.conns[0].delay_offset + 3] = std::numeric_limits<double>::infinity();
  expect_error([&] { engine->forward(p, batch, out); }, {"in_hid", "delay [1,0]", "inf"});
}

TEST(BadInputLibrary, NanOrInfiniteWeights) {
  const Config cfg = good_config();
  auto engine = make_engine(cfg.net, cfg.engine);
  const SpikeBatch batch = one_sample(cfg.net, {1.0}, {0});
  ForwardOutputs out;
  auto p = init_params(cfg.net, 1);
  p[cfg.net.conns[1].weight_offset + 3] = std::nan("");
  expect_error([&] { engine->forward(p, batch, out); }, {"hid_out", "weight [1,1]", "nan"});
  p = init_params(cfg.net, 1);
  p[cfg.net.conns[0].weight_offset + 4] = -std::numeric_limits<double>::infinity();
  expect_error([&] { engine->forward(p, batch, out); }, {"in_hid", "weight [1,1]", "inf"});
  p.pop_back();
  expect_error([&] { engine->forward(p, batch, out); }, {"parameters", std::to_string(cfg.net.n_params)});
}

TEST(BadInputLibrary, InputSpikesOutsideTheTrial) {
  const Config cfg = good_config();
  auto engine = make_engine(cfg.net, cfg.engine);
  const auto p = init_params(cfg.net, 1);
  ForwardOutputs out;
  // T_trial = 20 ms: a spike at 20 ms is after the trial, one at -0.5 ms before it.
  expect_error([&] { engine->forward(p, one_sample(cfg.net, {3.0, 20.0}, {0, 1}), out); },
               {"input spike 1 of sample 1", "outside the trial"});
  expect_error([&] { engine->forward(p, one_sample(cfg.net, {-0.5}, {0}), out); },
               {"input spike 0 of sample 1", "outside the trial"});
  expect_error([&] { engine->forward(p, one_sample(cfg.net, {std::nan("")}, {0}), out); }, {"sample 1", "outside"});
}

TEST(BadInputLibrary, UnitIdsOutOfRange) {
  const Config cfg = good_config();
  auto engine = make_engine(cfg.net, cfg.engine);
  const auto p = init_params(cfg.net, 1);
  ForwardOutputs out;
  expect_error([&] { engine->forward(p, one_sample(cfg.net, {1.0, 2.0}, {1, 2}), out); },
               {"input spike 1 of sample 1", "unit 2", "out of range"});
}

TEST(BadInputLibrary, EmptyPopulations) {
  expect_error([] { parse_config(replace(kConfig, "size = 3", "size = 0"), "cfg.toml"); },
               {"cfg.toml", "network.population.1.size", "positive"});
  Network net = good_config().net;
  net.pops[1].size = 0;
  expect_error([&] { net.finalize(); }, {"hid", "empty population"});
}

TEST(BadInputLibrary, UnknownOrMissingConfigKeys) {
  expect_error([] { parse_config(replace(kConfig, "dt = 0.1", "dt = 0.1\nbogus = 3"), "cfg.toml"); },
               {"cfg.toml", "unknown config key 'network.bogus'"});
  expect_error([] { parse_config(replace(kConfig, "readout = \"sum_exp\"", "readout = \"sum_exp\"\ntau = 3.0"), "c"); },
               {"unknown config key 'network.population.2.tau'"});
  expect_error([] { parse_config(std::string(kConfig) + "[trian]\nepochs = 3\n", "c"); }, {"'trian'"});
  expect_error([] { parse_config(replace(kConfig, "dt = 0.1", ""), "cfg.toml"); },
               {"cfg.toml", "missing config key 'network.dt'"});
  // The second max_delay belongs to connection 1.
  const std::string cfg = kConfig;
  const auto second = cfg.find("max_delay", cfg.find("max_delay") + 1);
  std::string without = cfg;
  without.erase(second, std::string("max_delay = 5.0").size());
  expect_error([&] { parse_config(without, "cfg.toml"); }, {"missing config key 'network.connection.1.max_delay'"});
  expect_error([] { parse_config(replace(kConfig, "post = \"out\"", "post = \"outt\""), "cfg.toml"); },
               {"network.connection.1", "unknown population 'outt'"});
  expect_error([] { parse_config(kConfig, "cfg.toml", {"network.population.1.size=-2"}); },
               {"network.population.1.size"});
  expect_error([] { parse_config(kConfig, "cfg.toml", {"data.input_copies=0"}); }, {"cfg.toml", "data.input_copies"});
  expect_error([] { parse_config(kConfig, "cfg.toml", {"data.input_copies=3"}); },
               {"cfg.toml", "data.input_copies = 3 must divide the network's 2 input neurons"});
}

TEST(BadInputLibrary, ParameterFileShapes) {
  const Config cfg = good_config();
  const Network& net = cfg.net;
  TempDir dir;
  const auto p = init_params(net, 1);
  {
    auto f = h5::File::create(dir.file("wrong_shape.h5"));
    for (const auto& c : net.conns) {
      const bool bad = c.name == "in_hid";
      f.write("/" + c.name + "/weights", std::vector<double>(c.n_synapses(), 1.0),
              bad ? std::vector<uint64_t>{c.n_post, c.n_pre} : std::vector<uint64_t>{c.n_pre, c.n_post});
      f.write("/" + c.name + "/delays", std::vector<double>(c.n_synapses(), 1.0), {c.n_pre, c.n_post});
    }
  }
  expect_error([&] { read_params(net, dir.file("wrong_shape.h5")); },
               {"wrong_shape.h5", "'/in_hid/weights'", "shape (3, 2)", "expected (2, 3)"});
  {
    auto f = h5::File::create(dir.file("flat.h5"));
    write_params(net, p, f);
  }
  {
    auto f = h5::File::create(dir.file("missing.h5"));
    const auto& c = net.conns[0];
    f.write("/in_hid/weights", std::vector<double>(c.n_synapses(), 1.0), {c.n_pre, c.n_post});
    f.write("/in_hid/delays", std::vector<double>(c.n_synapses(), 1.0), {c.n_pre, c.n_post});
  }
  expect_error([&] { read_params(net, dir.file("missing.h5")); }, {"missing.h5", "'/hid_out/weights'"});
  {
    auto f = h5::File::create(dir.file("negative.h5"));
    auto q = p;
    q[net.conns[1].delay_offset + 5] = -1.0;
    write_params(net, q, f);
  }
  expect_error([&] { read_params(net, dir.file("negative.h5")); }, {"negative.h5", "hid_out", "delay [2,1]"});
  expect_error([&] { read_params(net, dir.file("absent.h5")); }, {"absent.h5"});
  EXPECT_EQ(read_params(net, dir.file("flat.h5")), p);
}

TEST(BadInputLibrary, BackwardShapes) {
  const Config cfg = good_config();
  auto engine = make_engine(cfg.net, cfg.engine);
  const auto p = init_params(cfg.net, 1);
  ForwardOutputs out;
  engine->forward(p, one_sample(cfg.net, {1.0}, {0}), out);
  std::vector<double> g(cfg.net.n_params);
  BackwardInputs in;
  in.output_grad.assign(3, 0.0);  // 2 samples x 2 outputs expected
  expect_error([&] { engine->backward(p, in, g); }, {"output_grad", "3", "4"});
  in.output_grad.assign(4, 0.0);
  in.spike_kick.assign(cfg.net.pops.size(), {});
  in.spike_kick[1] = {1.0};
  expect_error([&] { engine->backward(p, in, g); }, {"spike_kick", "hid"});
  in.spike_kick.clear();
  g.pop_back();
  expect_error([&] { engine->backward(p, in, g); }, {"gradient buffer"});
}

// h5py writes string attributes as variable-length UTF-8; reading them must work (it failed
// with "cannot read attribute 'time_unit'" before the character set was taken from the file).
TEST(InputFiles, Utf8VariableLengthStringAttribute) {
  TempDir dir;
  EventDataset d;
  d.n_channels = 2;
  d.n_classes = 2;
  d.samples.push_back({{1.0, 2.0}, {0, 1}, 1, -1});
  write_events(dir.file("b.h5"), d, "ms");
  {
    const hid_t f = H5Fopen(dir.file("b.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Adelete(f, "time_unit");
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "time_unit", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char* value = "s";
    ASSERT_GE(H5Awrite(a, t, &value), 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
  }
  const EventDataset r = read_events(dir.file("b.h5"));
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_DOUBLE_EQ(r.samples[0].times_ms[1], 2000.0);  // now read as seconds
}

// ---- driver level -------------------------------------------------------------------------

const std::string kGrad = DELAYPROP_BINARY_DIR "/delayprop-grad";

// A directory with a good config, parameter file and batch, and a way to run the driver.
struct DriverRig {
  TempDir dir;
  Config cfg = good_config();

  DriverRig() {
    dir.write("config.toml", kConfig);
    auto f = h5::File::create(dir.file("params.h5"));
    write_params(cfg.net, init_params(cfg.net, 4), f);
    write_batch("batch.h5", {{{1.0, 3.5, 7.25}, {0, 1, 0}, 0}, {{0.5, 2.0}, {1, 1}, 1}});
  }

  struct Sample {
    std::vector<double> t;
    std::vector<uint32_t> c;
    int32_t label;
  };
  void write_batch(const std::string& name, const std::vector<Sample>& samples, uint32_t n_channels = 2) const {
    EventDataset d;
    d.n_channels = n_channels;
    d.n_classes = 2;
    for (const auto& s : samples) {
      EventSample e;
      e.times_ms = s.t;
      e.units = s.c;
      e.label = s.label;
      d.samples.push_back(e);
    }
    write_events(dir.file(name), d, "ms");
  }

  ProcessResult run(const std::string& config, const std::string& params, const std::string& batch,
                    std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv{kGrad, "--config", dir.file(config), "--input", dir.file(batch), "--out",
                                  dir.file("out.h5")};
    if (!params.empty()) {
      argv.push_back("--params");
      argv.push_back(dir.file(params));
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv, dir.path());
  }
};

// The driver failed cleanly: an exit code (not a signal), one error line naming every part.
void expect_clean_failure(const ProcessResult& r, const std::vector<std::string>& parts, int code = 1) {
  ASSERT_TRUE(r.exited) << "delayprop-grad was killed by signal " << r.code << "; stderr: " << r.err;
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_EQ(r.err.rfind("delayprop-grad: ", 0), 0u) << r.err;
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "'" << p << "' not in: " << r.err;
}

TEST(BadInputDriver, GoodRunSucceeds) {
  DriverRig rig;
  const auto r = rig.run("config.toml", "params.h5", "batch.h5");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(BadInputDriver, ConfigKeys) {
  DriverRig rig;
  rig.dir.write("unknown.toml", replace(kConfig, "dt = 0.1", "dt = 0.1\nbogus = 3"));
  expect_clean_failure(rig.run("unknown.toml", "params.h5", "batch.h5"), {"unknown.toml", "'network.bogus'"});
  rig.dir.write("missing.toml", replace(kConfig, "dt = 0.1", ""));
  expect_clean_failure(rig.run("missing.toml", "params.h5", "batch.h5"), {"missing.toml", "'network.dt'"});
  rig.dir.write("empty.toml", replace(kConfig, "size = 3", "size = 0"));
  expect_clean_failure(rig.run("empty.toml", "params.h5", "batch.h5"), {"network.population.1.size"});
  expect_clean_failure(rig.run("config.toml", "params.h5", "batch.h5", {"--set", "network.whatever=1"}),
                       {"'network.whatever'"});
  expect_clean_failure(rig.run("absent.toml", "params.h5", "batch.h5"), {"absent.toml"});
}

TEST(BadInputDriver, ParameterFiles) {
  DriverRig rig;
  const Network& net = rig.cfg.net;
  {
    auto f = h5::File::create(rig.dir.file("shape.h5"));
    for (const auto& c : net.conns) {
      f.write("/" + c.name + "/weights", std::vector<double>(c.n_synapses(), 1.0), {c.n_pre, c.n_post});
      const bool bad = c.name == "hid_out";
      f.write("/" + c.name + "/delays", std::vector<double>(bad ? 4 : c.n_synapses(), 1.0),
              bad ? std::vector<uint64_t>{2, 2} : std::vector<uint64_t>{c.n_pre, c.n_post});
    }
  }
  expect_clean_failure(rig.run("config.toml", "shape.h5", "batch.h5"), {"shape.h5", "'/hid_out/delays'", "expected (3, 2)"});
  auto p = init_params(net, 4);
  p[net.conns[0].delay_offset + 1] = -2.0;
  {
    auto f = h5::File::create(rig.dir.file("negative.h5"));
    write_params(net, p, f);
  }
  expect_clean_failure(rig.run("config.toml", "negative.h5", "batch.h5"), {"negative.h5", "in_hid", "delay [0,1]"});
  p = init_params(net, 4);
  p[net.conns[1].weight_offset] = std::nan("");
  {
    auto f = h5::File::create(rig.dir.file("nan.h5"));
    write_params(net, p, f);
  }
  expect_clean_failure(rig.run("config.toml", "nan.h5", "batch.h5"), {"nan.h5", "hid_out", "weight [0,0]"});
  expect_clean_failure(rig.run("config.toml", "absent.h5", "batch.h5"), {"absent.h5"});
  rig.dir.write("garbage.h5", "not an HDF5 file");
  expect_clean_failure(rig.run("config.toml", "garbage.h5", "batch.h5"), {"garbage.h5"});
}

TEST(BadInputDriver, Batches) {
  DriverRig rig;
  // The late-event policy of make_batch (docs/DATA.md): a few late events are dropped and
  // counted, most of them late is an error naming the file and time_unit.
  rig.write_batch("few_late.h5", {{{1.0, 2.0}, {0, 1}, 0}, {{2.0, 20.0}, {0, 1}, 1}});
  const auto few = rig.run("config.toml", "params.h5", "few_late.h5");
  ASSERT_EQ(few.code, 0) << few.err;
  EXPECT_NE(few.out.find("dropped late events 1"), std::string::npos) << few.out;
  rig.write_batch("late.h5", {{{1.0}, {0}, 0}, {{20.0, 25.0, 30.0}, {0, 1, 1}, 1}});
  expect_clean_failure(rig.run("config.toml", "params.h5", "late.h5"),
                       {"late.h5", "3 of 4 events", "time_unit"});
  // Times in ms in a file without the time_unit attribute are read as seconds: every event is late.
  rig.write_batch("no_unit.h5", {{{1.0, 3.5}, {0, 1}, 0}, {{0.5, 2.0}, {1, 1}, 1}});
  {
    const hid_t f = H5Fopen(rig.dir.file("no_unit.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Adelete(f, "time_unit"), 0);
    H5Fclose(f);
  }
  expect_clean_failure(rig.run("config.toml", "params.h5", "no_unit.h5"),
                       {"no_unit.h5", "4 of 4 events", "no time_unit attribute", "time_unit = \"ms\""});
  rig.write_batch("unit.h5", {{{1.0, 2.0}, {0, 5}, 0}}, 0);
  expect_clean_failure(rig.run("config.toml", "params.h5", "unit.h5"), {"unit.h5", "unit 5", "out of range"});
  rig.write_batch("label.h5", {{{1.0}, {0}, 7}}, 0);
  expect_clean_failure(rig.run("config.toml", "params.h5", "label.h5"), {"label.h5", "'/labels'", "7"});
  expect_clean_failure(rig.run("config.toml", "params.h5", "absent.h5"), {"absent.h5"});
}

TEST(BadInputDriver, UsageErrors) {
  DriverRig rig;
  expect_clean_failure(rig.run("config.toml", "params.h5", "batch.h5", {"--bogus"}), {"--bogus"}, 2);
  expect_clean_failure(rig.run("config.toml", "", "batch.h5"), {"--params"}, 2);
  expect_clean_failure(rig.run("config.toml", "params.h5", "batch.h5", {"--threads", "0"}), {"engine.threads"});
  expect_clean_failure(rig.run("config.toml", "params.h5", "batch.h5", {"--precision", "float16"}), {"float16"});
}

}  // namespace
