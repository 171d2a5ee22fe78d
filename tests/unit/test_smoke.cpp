#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/engine.hpp"

using namespace delayprop;

TEST(Smoke, ForwardBackwardRuns) {
  Config cfg = parse_config(R"(
[network]
dt = 0.1
duration = 20.0
[[network.population]]
name = "in"
kind = "input"
size = 2
[[network.population]]
name = "out"
kind = "li"
size = 1
readout = "sum_exp"
[[network.connection]]
name = "in_out"
pre = "in"
post = "out"
max_delay = 5.0
weight_init = { dist = "constant", value = 1.0 }
delay_init = { dist = "constant", value = 1.0 }
)", "smoke");
  auto engine = make_engine(cfg.net, cfg.engine);
  auto params = init_params(cfg.net, 1);
  SpikeBatch batch;
  std::vector<double> t{1.0};
  std::vector<uint32_t> c{0};
  batch.add_sample(t, c, cfg.net.dt);
  ForwardOutputs out;
  engine->forward(params, batch, out);
  EXPECT_GT(out.readout[0], 0.0);
}
