// delayprop-grad: loss, readouts, spike counts and the gradient of every weight and delay of
// one batch, written to HDF5 (format in docs/FORMATS.md). For tests and for comparing with
// other implementations. The batch is built by make_batch, the path training uses.
#include <iostream>

#include "cli.hpp"
#include "core/error.hpp"
#include "core/loss.hpp"
#include "io/config.hpp"
#include "io/data/dataset.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "kernels/common.hpp"
#include "kernels/factory.hpp"
#include "model_source.hpp"

using namespace delayprop;

static const Cli kCli(
    "delayprop-grad",
    "usage: delayprop-grad [--config FILE] [--set key=value]... --input BATCH.h5\n"
    "                      (--params PARAMS.h5 | --model MODEL.h5 [--which best|last] | --param-seed S)\n"
    "                      --out OUT.h5 [--loss-only] [--threads N] [--precision float32|float64]\n"
    "                      [--backend cpu|cuda]\n"
    "Give exactly one of --params, --model and --param-seed.\n",
    {{"config", "FILE", "the config (a plain parameter file and --param-seed need one)", "the model's own config"},
     {"set", "key=value", "override a config key; repeatable", "none"},
     {"input", "BATCH.h5", "the batch (event layout, docs/FORMATS.md)", kRequired},
     {"params", "PARAMS.h5", "a parameter file, a model file or a checkpoint", "none"},
     {"model", "MODEL.h5", "a model file (DIR/model.h5) or a checkpoint", "none"},
     {"which", "best|last", "with --model: which parameters of the model", "best"},
     {"param-seed", "S", "fresh parameters initialised with seed S", "none"},
     {"out", "OUT.h5", "the output file (loss, readouts, spike counts, gradients)", kRequired},
     {"loss-only", "", "forward pass and loss only, no gradients", "off"},
     {"threads", "N", "the same as --set engine.threads=N", "the config's engine.threads"},
     {"precision", "float32|float64", "the same as --set engine.precision=...", "the config's engine.precision"},
     {"backend", "cpu|cuda", "the same as --set engine.backend=...", "the config's engine.backend"}});

int main(int argc, char** argv) {
  return run_main("delayprop-grad", [&] {
    Args args(argc, argv, kCli);
    if (print_help_or_version(args, kCli)) return 0;
    std::vector<std::string> sets = args.all("set");
    if (args.has("threads")) sets.push_back("engine.threads=" + args.get("threads"));
    if (args.has("precision")) sets.push_back("engine.precision=\"" + args.get("precision") + "\"");
    if (args.has("backend")) sets.push_back("engine.backend=\"" + args.get("backend") + "\"");
    if (int(args.has("params")) + int(args.has("model")) + int(args.has("param-seed")) != 1)
      throw UsageError("give exactly one of --params FILE, --model FILE and --param-seed S");
    std::string model_path = args.get("model");
    if (args.has("params") && is_model_or_checkpoint(args.get("params"))) model_path = args.get("params");
    Config cfg;
    std::vector<double> params;
    if (!model_path.empty()) {
      LoadedModel lm = load_model(model_path, args.get("config"), sets, args.get("which", "best"));
      cfg = std::move(lm.cfg);
      params = std::move(lm.params);
    } else {
      cfg = load_config(args.require_value("config"), sets);
      params = args.has("params") ? read_params(cfg.net, args.get("params"))
                                  : init_params(cfg.net, uint64_t(args.get_int("param-seed", 0)));
    }
    const Network& net = cfg.net;
    check_engine_memory(net, cfg.engine, cfg.source);  // before any parameter is allocated
    const std::string input = args.require_value("input");
    const std::string out_path = args.require_value("out");

    const uint32_t K = net.pops[net.output].size;
    EventDataset data = read_input_events(input, cfg.data, net);
    require(!data.samples.empty(), input, ": '/labels' is empty: the batch has no samples");
    SpikeBatch batch;
    std::vector<int32_t> labels;
    BatchStats stats;
    std::vector<uint32_t> all(data.samples.size());
    for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    make_batch(data, all, net, batch, labels, stats);
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
    f.write_scalar("/dropped_late_events", int64_t(stats.dropped_late));
    f.write_scalar("/merged_events", int64_t(stats.merged));
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
    std::cout.precision(17);
    std::cout << "loss " << loss.loss << "  correct " << loss.correct << "/" << fwd.n_samples << "  hidden spikes "
              << fwd.hidden_spikes;
    if (stats.dropped_late) std::cout << "  dropped late events " << stats.dropped_late;
    if (stats.merged) std::cout << "  merged duplicate events " << stats.merged;
    std::cout << "\n";
    return 0;
  });
}
