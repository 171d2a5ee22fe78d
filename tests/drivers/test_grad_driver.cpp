// delayprop-grad end to end: it writes the documented datasets, and its loss, readouts and
// gradients equal the library's for the same config, parameters and batch.
#include <gtest/gtest.h>

#include "grad_test_util.hpp"
#include "io/data/dataset.hpp"
#include "io/data/events.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

const char* kConfig = R"(
[network]
dt = 0.05
duration = 25.0
[[network.population]]
name = "in"
kind = "input"
size = 4
[[network.population]]
name = "rec"
kind = "lif"
size = 6
[[network.population]]
name = "out"
kind = "li"
size = 3
readout = "sum_exp"
[[network.connection]]
name = "in_rec"
pre = "in"
post = "rec"
max_delay = 5.0
weight_init = { dist = "normal", mean = 1.5, sd = 0.5 }
delay_init = { dist = "uniform", low = 0.0, high = 5.0 }
[[network.connection]]
name = "rec_rec"
pre = "rec"
post = "rec"
max_delay = 3.0
weight_init = { dist = "normal", mean = 0.0, sd = 0.3 }
delay_init = { dist = "uniform", low = 0.0, high = 3.0 }
[[network.connection]]
name = "rec_out"
pre = "rec"
post = "out"
max_delay = 2.0
weight_init = { dist = "normal", mean = 0.2, sd = 0.4 }
delay_init = { dist = "uniform", low = 0.0, high = 2.0 }
[regulariser]
nu = 1.0
k_up = 0.002
k_low = 0.0005
)";

TEST(GradDriver, OutputMatchesLibrary) {
  TempDir dir;
  dir.write("config.toml", kConfig);
  const Config cfg = parse_config(kConfig, dir.file("config.toml"));
  const Network& net = cfg.net;
  const auto params = init_params(net, 11);
  {
    auto f = h5::File::create(dir.file("params.h5"));
    write_params(net, params, f);
  }
  Problem pb;
  pb.net = net;
  pb.opt.precision = Precision::Float64;
  random_batch(pb, 5, 4, 0.0, 20.0, 3, 8);
  EventDataset data;
  data.n_channels = 4;
  data.n_classes = 3;
  {
    std::mt19937_64 g(8);
    std::uniform_real_distribution<double> ut(0.0, 20.0);
    for (uint32_t b = 0; b < 5; ++b) {
      EventSample s;
      for (uint32_t c = 0; c < 4; ++c)
        for (int k = 0; k < 4; ++k) {
          s.times_ms.push_back(ut(g));
          s.units.push_back(c);
        }
      s.label = int32_t(b % 3);
      data.samples.push_back(s);
    }
  }
  write_events(dir.file("batch.h5"), data, "ms");
  // The driver batches with make_batch, the path training uses (no [data] section: the
  // defaults, no merging, no channel sums).
  {
    std::vector<uint32_t> idx(data.samples.size());
    for (uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
    set_batching(data, cfg.data);
    BatchStats st;
    make_batch(data, idx, net, pb.batch, pb.labels, st);
  }

  const auto r = run_process({DELAYPROP_BINARY_DIR "/delayprop-grad", "--config", dir.file("config.toml"), "--input",
                              dir.file("batch.h5"), "--params", dir.file("params.h5"), "--out", dir.file("out.h5"),
                              "--precision", "float64", "--threads", "2"},
                             dir.path());
  ASSERT_TRUE(r.exited) << "killed by signal " << r.code;
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("loss "), std::string::npos) << r.out;

  // The library, the same way: forward, loss, regulariser kicks from the batch's counts, backward.
  auto engine = make_engine(net, pb.opt);
  ForwardOutputs fwd;
  engine->forward(params, pb.batch, fwd);
  BackwardInputs bin;
  const LossResult loss = compute_loss(cfg.loss, fwd, pb.labels, pb.batch.n_samples, bin);
  bin.spike_kick = regulariser_kicks(cfg.reg, net, fwd.spike_counts, pb.batch.n_samples);
  ASSERT_FALSE(bin.spike_kick[1].empty()) << "the regulariser should be on in this config";
  std::vector<double> grad(net.n_params);
  engine->backward(params, bin, grad);
  ASSERT_GT(fwd.hidden_spikes, 0u);

  auto f = h5::File::open_read(dir.file("out.h5"));
  for (const char* name : {"/loss", "/correct", "/readouts", "/first_spike_step", "/prediction", "/spike_counts/rec"})
    EXPECT_TRUE(f.exists(name)) << name;
  EXPECT_DOUBLE_EQ(f.read_doubles("/loss")[0], loss.loss);
  EXPECT_EQ(f.read_ints("/correct")[0], int64_t(loss.correct));
  std::vector<uint64_t> shape;
  const auto readouts = f.read_doubles("/readouts", &shape);
  EXPECT_EQ(shape, (std::vector<uint64_t>{5, 3}));
  EXPECT_EQ(readouts, fwd.readout);
  const auto counts = f.read_ints("/spike_counts/rec");
  ASSERT_EQ(counts.size(), 6u);
  for (size_t j = 0; j < 6; ++j) EXPECT_EQ(counts[j], int64_t(fwd.spike_counts[1][j]));
  // Parameters echoed and gradients in the parameter-file layout (/grad/NAME/weights|delays).
  auto read_group = [&](const std::string& group) {
    std::vector<double> v(net.n_params);
    for (const auto& c : net.conns) {
      std::vector<uint64_t> s;
      const auto w = f.read_doubles(group + "/" + c.name + "/weights", &s);
      EXPECT_EQ(s, (std::vector<uint64_t>{c.n_pre, c.n_post})) << group << "/" << c.name;
      const auto d = f.read_doubles(group + "/" + c.name + "/delays");
      std::copy(w.begin(), w.end(), v.begin() + c.weight_offset);
      std::copy(d.begin(), d.end(), v.begin() + c.delay_offset);
    }
    return v;
  };
  EXPECT_EQ(read_group("/params"), params);
  const auto file_grad = read_group("/grad");
  double norm = 0;
  for (size_t k = 0; k < grad.size(); ++k) {
    EXPECT_EQ(file_grad[k], grad[k]) << "parameter " << k;  // same code, same order: bitwise
    norm += grad[k] * grad[k];
  }
  EXPECT_GT(norm, 0.0);

  // --loss-only: no gradient group.
  const auto r2 = run_process({DELAYPROP_BINARY_DIR "/delayprop-grad", "--config", dir.file("config.toml"), "--input",
                               dir.file("batch.h5"), "--param-seed", "11", "--out", dir.file("out2.h5"), "--loss-only",
                               "--precision", "float64"},
                              dir.path());
  ASSERT_TRUE(r2.exited);
  ASSERT_EQ(r2.code, 0) << r2.err;
  auto f2 = h5::File::open_read(dir.file("out2.h5"));
  EXPECT_FALSE(f2.exists("/grad"));
  EXPECT_DOUBLE_EQ(f2.read_doubles("/loss")[0], loss.loss);  // --param-seed 11 = init_params(net, 11)
}

}  // namespace
