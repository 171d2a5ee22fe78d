// delayprop-eval: uses a trained network. Evaluates a split of the run's data (or any file in
// the event layout) with the best or last parameters of a model file or checkpoint: loss,
// accuracy, per-class accuracy, confusion matrix (CSV and PNG), per-sample predictions and
// readouts (HDF5), optional spike rasters; or writes a model file from a checkpoint. Under
// mpirun the samples are sharded over the ranks (the trainer's evaluation path).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "core/error.hpp"
#include "dist/mpi.hpp"
#include "io/data/dataset.hpp"
#include "io/h5.hpp"
#include "io/png.hpp"
#include "io/version.hpp"
#include "kernels/factory.hpp"
#include "model_source.hpp"
#include "train/evaluate.hpp"

using namespace delayprop;
namespace fs = std::filesystem;
using json = nlohmann::json;

static const Cli kCli(
    "delayprop-eval",
    "usage: delayprop-eval (--run DIR | --model FILE) [--params best|last]\n"
    "                      [--split train|valid|test | --input EVENTS.h5] [--out DIR]\n"
    "                      [--config FILE] [--set key=value]... [--batch-size N] [--threads N]\n"
    "                      [--rasters N] [--comm auto|local|mpi] [--export-model FILE] [--quiet]\n"
    "Output: eval.json, confusion.csv, confusion.png, predictions.h5, and with --rasters N:\n"
    "rasters.h5 and raster_I.png for the first N samples.\n"
    "Under mpirun the ranks share the samples of every batch.\n",
    {{"run", "DIR", "a training run: reads DIR/model.h5, else DIR/checkpoint.h5 (this or --model)", "none"},
     {"model", "FILE", "a model file or a checkpoint (this or --run)", "none"},
     {"params", "best|last", "the best epoch's or the last parameters", "best"},
     {"split", "train|valid|test", "the split of the model's data set", "test"},
     {"input", "EVENTS.h5", "evaluate this file (event layout) instead of a split", "none"},
     {"out", "DIR", "the output directory (required with --model)", "DIR/eval-SPLIT-PARAMS with --run"},
     {"config", "FILE", "use this config instead of the model's own", "the model's own config"},
     {"set", "key=value", "override a config key; repeatable", "none"},
     {"batch-size", "N", "samples per evaluation batch", "the trainer's evaluation batch size"},
     {"threads", "N", "the same as --set engine.threads=N", "the config's engine.threads"},
     {"rasters", "N", "spike rasters of the first N samples", "0"},
     {"comm", "auto|local|mpi", "the communicator", "auto"},
     {"export-model", "FILE", "write a model file from the checkpoint or model and exit", "none"},
     {"quiet", "", "no summary on stdout", "off"}});

namespace {

// White -> dark blue.
void shade(double v, uint8_t& r, uint8_t& g, uint8_t& b) {
  v = std::clamp(v, 0.0, 1.0);
  r = uint8_t(255 - v * 247), g = uint8_t(255 - v * 207), b = uint8_t(255 - v * 148);
}

// Confusion matrix: one square of `cell` pixels per (true row, predicted column), shaded by
// the row-normalised count, with a one-pixel grey grid; a black frame around the diagonal.
void confusion_png(const std::string& path, const std::vector<uint64_t>& cm, uint32_t K) {
  const uint32_t cell = std::max<uint32_t>(4, std::min<uint32_t>(32, 640 / std::max<uint32_t>(K, 1)));
  const uint32_t side = K * cell + 1;
  Image img(side, side, 160);
  for (uint32_t t = 0; t < K; ++t) {
    uint64_t row = 0;
    for (uint32_t p = 0; p < K; ++p) row += cm[size_t(t) * K + p];
    for (uint32_t p = 0; p < K; ++p) {
      uint8_t r, g, b;
      shade(row ? double(cm[size_t(t) * K + p]) / double(row) : 0.0, r, g, b);
      img.fill(p * cell + 1, t * cell + 1, cell - 1, cell - 1, r, g, b);
      if (p == t && cell >= 6) {
        img.fill(p * cell + 1, t * cell + 1, cell - 1, 1, 0, 0, 0);
        img.fill(p * cell + 1, t * cell + cell - 1, cell - 1, 1, 0, 0, 0);
        img.fill(p * cell + 1, t * cell + 1, 1, cell - 1, 0, 0, 0);
        img.fill(p * cell + cell - 1, t * cell + 1, 1, cell - 1, 0, 0, 0);
      }
    }
  }
  img.save(path);
}

// A raster: panels stacked vertically, time left to right (steps pooled so that the image is
// at most 1000 wide, widened to about 600 for short trials), one row per neuron (at least 2 px per row when few): input
// (black), each LIF population (red, the output blue), an LI output's readouts as bars
// (the label green).
struct Panel {
  std::string name;
  uint32_t rows = 0;
  std::vector<std::pair<int32_t, uint32_t>> spikes;
  bool bars = false;
  std::vector<double> values;
  int32_t label = -1;
  Panel(std::string n, uint32_t r, std::vector<std::pair<int32_t, uint32_t>> s, bool b = false)
      : name(std::move(n)), rows(r), spikes(std::move(s)), bars(b) {}
};

void raster_png(const std::string& path, const std::vector<Panel>& panels, uint32_t n_steps) {
  const uint32_t pool = std::max<uint32_t>(1, (n_steps + 999) / 1000);
  const uint32_t xs = std::max<uint32_t>(1, 600 / std::max<uint32_t>(n_steps, 1));  // short trials: wider steps
  const uint32_t width = (n_steps + pool - 1) / pool * xs;
  uint32_t height = 0;
  std::vector<uint32_t> row_h;
  for (const auto& p : panels) {
    row_h.push_back(std::max<uint32_t>(1, std::min<uint32_t>(12, 200 / std::max<uint32_t>(p.rows, 1))));
    height += p.rows * row_h.back() + 4;
  }
  Image img(width, height, 255);
  uint32_t y0 = 0;
  for (size_t k = 0; k < panels.size(); ++k) {
    const auto& p = panels[k];
    const uint32_t h = row_h[k];
    if (p.bars) {
      double lo = *std::min_element(p.values.begin(), p.values.end());
      double hi = *std::max_element(p.values.begin(), p.values.end());
      for (uint32_t j = 0; j < p.rows; ++j) {
        const double f = hi > lo ? (p.values[j] - lo) / (hi - lo) : 0.5;
        const bool lab = int32_t(j) == p.label;
        img.fill(0, y0 + j * h, std::max<uint32_t>(1, uint32_t(f * (width - 1))), std::max<uint32_t>(1, h - (h > 2)),
                 lab ? 0 : 120, lab ? 160 : 120, lab ? 0 : 120);
      }
    } else {
      const bool out = k + 1 == panels.size();
      for (auto [step, j] : p.spikes)
        img.fill(uint32_t(step) / pool * xs, y0 + j * h, xs, std::max<uint32_t>(1, h - (h > 3)), k == 0 ? 0 : (out ? 0 : 200), 0, k == 0 ? 0 : (out ? 200 : 0));
    }
    y0 += p.rows * h;
    img.fill(0, y0 + 1, width, 2, 200, 200, 200);
    y0 += 4;
  }
  img.save(path);
}

}  // namespace

int main(int argc, char** argv) {
  dist::MpiSession mpi(&argc, &argv);
  return mpi.run_main("delayprop-eval", [&] {
    Args args(argc, argv, kCli);
    if (print_help_or_version(args, kCli)) return 0;
    if (args.has("run") == args.has("model")) throw UsageError("give exactly one of --run DIR and --model FILE");
    if (args.has("split") && args.has("input")) throw UsageError("give at most one of --split and --input");
    std::string model_path = args.get("model");
    if (args.has("run")) {
      const std::string dir = args.get("run");
      require(fs::is_directory(dir), dir, ": no such run directory");
      model_path = fs::exists(dir + "/model.h5") ? dir + "/model.h5" : dir + "/checkpoint.h5";
      require(fs::exists(model_path), dir, ": has neither model.h5 nor checkpoint.h5 (not a training run?)");
    }
    const std::string which = args.get("params", "best");
    std::vector<std::string> sets = args.all("set");
    if (args.has("threads")) sets.push_back("engine.threads=" + std::to_string(args.get_int("threads", 1)));
    LoadedModel lm = load_model(model_path, args.get("config"), sets, which);
    const Config& cfg = lm.cfg;
    const Network& net = cfg.net;
    auto comm = dist::make_communicator(args.get("comm", "auto"));
    const bool root = comm->rank() == 0;

    if (args.has("export-model")) {
      // A model file from a checkpoint (or another model file): best and last parameters.
      if (root) {
        ModelMeta meta = lm.stored->meta;
        meta.config_toml = cfg.resolved_toml;
        const auto best = read_model_params(*lm.stored, net, true);
        const auto last = read_model_params(*lm.stored, net, false);
        write_model(args.get("export-model"), net, best, last, meta);
        std::cout << "wrote " << args.get("export-model") << " from " << model_path << "\n";
      }
      comm->barrier();
      return 0;
    }

    // The data: a split of the config's data set, or a file.
    std::string what;
    EventDataset data;
    if (args.has("input")) {
      what = args.get("input");
      data = read_input_events(what, cfg.data, net, /*labels_optional=*/true);
    } else {
      const std::string split = args.get("split", "test");
      if (split != "train" && split != "valid" && split != "test")
        throw UsageError("--split must be train, valid or test, got '" + split + "'");
      DataSplits d = load_dataset(cfg.data, net);
      if (split == "valid")
        require(d.has_valid, model_path, ": the model's data set (", d.description,
                ") has no validation split (data.validation = \"", cfg.data.validation, "\")");
      if (root && !lm.stored->meta.data_fingerprint.empty() && data_fingerprint(d) != lm.stored->meta.data_fingerprint)
        std::cerr << "delayprop-eval: note: the data differ from those the model was trained on (data fingerprint "
                  << data_fingerprint(d) << ", model " << lm.stored->meta.data_fingerprint << ")\n";
      data = split == "train" ? std::move(d.train) : split == "valid" ? std::move(d.valid) : std::move(d.test);
      what = split;
      require(!data.samples.empty(), model_path, ": the ", split, " split is empty");
    }
    const uint32_t B = args.has("batch-size") ? uint32_t(args.get_int("batch-size", 64))
                                              : eval_batch_size(cfg.train.batch_size);
    if (B == 0) throw UsageError("--batch-size must be >= 1");
    auto engine = make_engine(net, cfg.engine);
    const EvalResult r = evaluate(net, cfg.loss, *engine, *comm, data, lm.params, B, true);
    const uint32_t K = r.n_classes;

    // Rasters of the first N samples (rank 0, one batch).
    const long long n_rasters = std::min<long long>(args.get_int("rasters", 0), (long long)data.samples.size());
    if (n_rasters < 0) throw UsageError("--rasters must be >= 0");

    std::string out_dir = args.get("out");
    if (out_dir.empty()) {
      if (!args.has("run")) throw UsageError("--out DIR is required with --model");
      out_dir = args.get("run") + "/eval-" + (args.has("input") ? fs::path(what).stem().string() : what) + "-" + which;
    }
    if (root) {
      fs::create_directories(out_dir);
      json j;
      j["model"] = model_path;
      j["params"] = which;
      j["data"] = args.has("input") ? json(what) : json(cfg.data.kind);
      j["split"] = args.has("input") ? json(nullptr) : json(what);
      j["samples"] = r.n;
      j["batch_size"] = B;
      j["world_size"] = comm->size();
      j["has_labels"] = r.has_labels;
      std::vector<double> per_class(K, 0.0);
      std::vector<uint64_t> class_count(K, 0);
      if (r.has_labels) {
        j["loss"] = r.loss;
        j["accuracy"] = r.accuracy();
        j["correct"] = r.correct;
        for (uint32_t t = 0; t < K; ++t) {
          for (uint32_t p = 0; p < K; ++p) class_count[t] += r.confusion[size_t(t) * K + p];
          per_class[t] = class_count[t] ? double(r.confusion[size_t(t) * K + t]) / double(class_count[t]) : 0.0;
        }
        j["per_class_accuracy"] = per_class;
        j["class_counts"] = class_count;
        std::vector<std::vector<uint64_t>> rows(K);
        for (uint32_t t = 0; t < K; ++t) rows[t].assign(r.confusion.begin() + t * K, r.confusion.begin() + (t + 1) * K);
        j["confusion"] = rows;
      }
      j["events"] = r.stats.events;
      j["spikes"] = r.stats.spikes;
      j["merged_events"] = r.stats.merged;
      j["dropped_late_events"] = r.stats.dropped_late;
      const BuildInfo& bi = build_info();
      j["version"] = bi.version;
      j["git_commit"] = bi.git_commit;
      j["build_options"] = bi.options;
      j["model_version"] = lm.stored->version;
      j["model_git_commit"] = lm.stored->git_commit;
      j["model_format_version"] = lm.stored->format_version;
      j["model_is_checkpoint"] = lm.stored->is_checkpoint;
      std::ofstream(out_dir + "/eval.json") << j.dump(2) << "\n";

      if (r.has_labels) {
        std::ofstream csv(out_dir + "/confusion.csv");
        csv << "true\\predicted";
        for (uint32_t p = 0; p < K; ++p) csv << "," << p;
        csv << "\n";
        for (uint32_t t = 0; t < K; ++t) {
          csv << t;
          for (uint32_t p = 0; p < K; ++p) csv << "," << r.confusion[size_t(t) * K + p];
          csv << "\n";
        }
        confusion_png(out_dir + "/confusion.png", r.confusion, K);
      }
      auto f = h5::File::create(out_dir + "/predictions.h5");
      f.write("/prediction", r.prediction, {r.n});
      if (r.has_labels) {
        f.write("/labels", r.labels, {r.n});
        f.write_scalar("/loss", r.loss);
        f.write_scalar("/correct", int64_t(r.correct));
        std::vector<int64_t> cm(r.confusion.begin(), r.confusion.end());
        f.write("/confusion", cm, {K, K});
      }
      f.write("/readouts", r.readout, {r.n, K});
      f.write("/first_spike_step", r.first_spike_step, {r.n, K});
      for (size_t p = 0; p < net.pops.size(); ++p)
        if (!r.spike_counts[p].empty())
          f.write("/spike_counts/" + net.pops[p].name, r.spike_counts[p], {r.spike_counts[p].size()});

      if (n_rasters > 0) {
        std::vector<uint32_t> idx(static_cast<size_t>(n_rasters));
        for (uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
        SpikeBatch batch;
        std::vector<int32_t> labels;
        BatchStats st;
        make_batch(data, idx, net, batch, labels, st);
        ForwardOutputs fwd;
        fwd.record_spikes = true;
        engine->forward(lm.params, batch, fwd);
        auto rf = h5::File::create(out_dir + "/rasters.h5");
        for (uint32_t b = 0; b < idx.size(); ++b) {
          const std::string g = "/sample_" + std::to_string(b);
          std::vector<Panel> panels;
          Panel in{"input", net.n_input_channels, {}};
          std::vector<int32_t> is, ic;
          for (uint64_t e = batch.offsets[b]; e < batch.offsets[b + 1]; ++e) {
            in.spikes.emplace_back(batch.steps[e], batch.channels[e]);
            is.push_back(batch.steps[e]);
            ic.push_back(int32_t(batch.channels[e]));
          }
          rf.write(g + "/input/steps", is, {is.size()});
          rf.write(g + "/input/neurons", ic, {ic.size()});
          panels.push_back(std::move(in));
          for (size_t p = 0; p < net.pops.size(); ++p) {
            if (net.pops[p].kind != PopKind::LIF) continue;
            Panel pp{net.pops[p].name, net.pops[p].size, fwd.spikes[b][p]};
            std::vector<int32_t> s, n;
            for (auto [step, j] : pp.spikes) s.push_back(step), n.push_back(int32_t(j));
            rf.write(g + "/" + net.pops[p].name + "/steps", s, {s.size()});
            rf.write(g + "/" + net.pops[p].name + "/neurons", n, {n.size()});
            panels.push_back(std::move(pp));
          }
          if (net.pops[net.output].kind == PopKind::LI) {
            Panel o{net.pops[net.output].name, K, {}, true};
            o.values.assign(fwd.readout.begin() + size_t(b) * K, fwd.readout.begin() + size_t(b + 1) * K);
            o.label = labels[b];
            panels.push_back(std::move(o));
          }
          rf.write(g + "/readout", std::vector<double>(fwd.readout.begin() + size_t(b) * K,
                                                        fwd.readout.begin() + size_t(b + 1) * K), {K});
          rf.write_scalar(g + "/label", int64_t(labels[b]));
          raster_png(out_dir + "/raster_" + std::to_string(b) + ".png", panels, net.n_steps);
        }
        rf.write_scalar("/dt", net.dt);
        rf.write_scalar("/n_steps", int64_t(net.n_steps));
      }
      if (!args.has("quiet")) {
        std::cout.precision(17);
        std::cout << "delayprop-eval: " << what << " (" << r.n << " samples, " << which << " parameters of "
                  << model_path << "): ";
        if (r.has_labels)
          std::cout << "loss " << r.loss << "  accuracy " << r.accuracy() << " (" << r.correct << "/" << r.n << ")";
        else
          std::cout << "predictions only (no labels)";
        std::cout << "  -> " << out_dir << "\n";
      }
    }
    comm->barrier();
    return 0;
  });
}
