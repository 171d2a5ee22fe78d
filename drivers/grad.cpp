// delayprop-grad: loss, readouts, spike counts and the gradient of every weight and delay of
// one batch, written to HDF5 (format in docs/FORMATS.md). For tests and for comparing with
// other implementations.
#include <iostream>

#include "cli.hpp"
#include "io/config.hpp"
#include "io/data/events.hpp"
#include "core/error.hpp"
#include "io/h5.hpp"
#include "core/loss.hpp"
#include "io/param_io.hpp"
#include "kernels/common.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;

static const char* kUsage =
    "usage: delayprop-grad --config FILE [--set key=value]... --input BATCH.h5\n"
    "                      (--params PARAMS.h5 | --param-seed S) --out OUT.h5\n"
    "                      [--loss-only] [--threads N] [--precision float32|float64] [--backend cpu|cuda]\n";

int main(int argc, char** argv) {
  return run_main("delayprop-grad", [&] {
    Args args(argc, argv, {"config", "set", "input", "params", "param-seed", "out", "threads", "precision", "backend"},
              {"loss-only", "help"});
    if (args.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    std::vector<std::string> sets = args.all("set");
    if (args.has("threads")) sets.push_back("engine.threads=" + args.get("threads"));
    if (args.has("precision")) sets.push_back("engine.precision=\"" + args.get("precision") + "\"");
    if (args.has("backend")) sets.push_back("engine.backend=\"" + args.get("backend") + "\"");
    Config cfg = load_config(args.require_value("config"), sets);
    const Network& net = cfg.net;
    check_engine_memory(net, cfg.engine, cfg.source);  // before any parameter is allocated
    const std::string input = args.require_value("input");
    const std::string out_path = args.require_value("out");
    if (args.has("params") == args.has("param-seed"))
      throw UsageError("give exactly one of --params FILE and --param-seed S");
    std::vector<double> params =
        args.has("params") ? read_params(net, args.get("params")) : init_params(net, uint64_t(args.get_int("param-seed", 0)));

    const uint32_t K = net.pops[net.output].size;
    EventDataset data = read_events(input, net.n_input_channels, K);
    require(!data.samples.empty(), input, ": '/labels' is empty: the batch has no samples");
    SpikeBatch batch;
    std::vector<int32_t> labels;
    for (const auto& s : data.samples) {
      batch.add_sample(s.times_ms, s.units, net.dt);
      labels.push_back(s.label);
    }
    auto engine = make_engine(net, cfg.engine);
    ForwardOutputs fwd;
    try {
      engine->forward(params, batch, fwd);
    } catch (const Error& e) {
      fail(input, ": ", e.what());
    }
    BackwardInputs bin;
    LossResult loss = compute_loss(cfg.loss, fwd, labels, batch.n_samples, bin);

    auto f = h5::File::create(out_path);
    f.write_scalar("/loss", loss.loss);
    f.write_scalar("/correct", int64_t(loss.correct));
    f.write("/readouts", fwd.readout, {fwd.n_samples, K});
    f.write("/first_spike_step", fwd.first_spike_step, {fwd.n_samples, K});
    f.write("/prediction", loss.prediction, {fwd.n_samples});
    for (size_t p = 0; p < net.pops.size(); ++p)
      if (!fwd.spike_counts[p].empty())
        f.write("/spike_counts/" + net.pops[p].name, fwd.spike_counts[p], {fwd.spike_counts[p].size()});
    write_params(net, params, f, "/params");
    if (!args.has("loss-only")) {
      bin.spike_kick = regulariser_kicks(cfg.reg, net, fwd.spike_counts, batch.n_samples);
      std::vector<double> grad(net.n_params);
      engine->backward(params, bin, grad);
      write_params(net, grad, f, "/grad");
    }
    f.close();
    std::cout << "loss " << loss.loss << "  correct " << loss.correct << "/" << fwd.n_samples << "  hidden spikes "
              << fwd.hidden_spikes << "\n";
    return 0;
  });
}
