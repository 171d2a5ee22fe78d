// delayprop._core: the Python binding (docs/PYTHON.md) over the same libraries as the drivers.
// Argument conversion and checks happen here with the GIL held; every engine, batching,
// training and evaluation call runs with the GIL released. The Python package
// (python/delayprop/__init__.py) adds config dispatch, numpy event layouts and the training
// thread that turns Ctrl-C into a checkpoint.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <toml++/toml.h>

#include "core/error.hpp"
#include "core/loss.hpp"
#include "dist/comm.hpp"
#include "drivers/model_source.hpp"
#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "io/data/dataset.hpp"
#include "io/h5.hpp"
#include "io/model_file.hpp"
#include "io/param_io.hpp"
#include "io/version.hpp"
#include "kernels/common.hpp"
#include "kernels/factory.hpp"
#include "train/evaluate.hpp"
#include "train/train.hpp"

namespace py = pybind11;
using namespace delayprop;

namespace {

using ConfigPtr = std::shared_ptr<Config>;
using Path = std::filesystem::path;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using I64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// Bad arguments from Python: ValueError (pybind11 maps std::invalid_argument to it).
template <typename... Parts>
[[noreturn]] void bad_value(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw std::invalid_argument(os.str());
}

std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// A float64 array of exactly `shape`; anything numpy can convert is accepted.
F64Array as_f64(const py::handle& obj, const std::vector<py::ssize_t>& shape, const std::string& what) {
  F64Array a = F64Array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    bad_value(what, ": expected a float array, got ", std::string(py::str(py::type::of(obj))));
  }
  const std::vector<py::ssize_t> got(a.shape(), a.shape() + a.ndim());
  if (got != shape) bad_value(what, ": expected shape ", shape_str(shape), ", got ", shape_str(got));
  return a;
}

template <typename T>
py::array_t<T> to_numpy(const T* data, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  std::copy(data, data + a.size(), a.mutable_data());
  return a;
}

// ---- configs ------------------------------------------------------------------------------

// A Python value of the config schema as TOML: dicts are tables, lists and tuples arrays.
void fill_table(toml::table& t, const py::dict& d, const std::string& key);
toml::array to_array(const py::handle& v, const std::string& key);

template <typename Add>
void add_value(const py::handle& v, const std::string& key, Add&& add) {
  if (py::isinstance<py::bool_>(v)) {
    add(v.cast<bool>());
  } else if (py::isinstance<py::int_>(v) || (PyIndex_Check(v.ptr()) && !py::isinstance<py::float_>(v))) {
    add(py::int_(py::reinterpret_borrow<py::object>(v)).cast<int64_t>());  // numpy integers too
  } else if (py::isinstance<py::float_>(v)) {
    add(v.cast<double>());
  } else if (py::isinstance<py::str>(v)) {
    add(v.cast<std::string>());
  } else if (py::isinstance<py::dict>(v)) {
    toml::table t;
    fill_table(t, v.cast<py::dict>(), key);
    add(std::move(t));
  } else if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    add(to_array(v, key));
  } else {
    bad_value("config key '", key, "': a ", std::string(py::str(py::type::of(v))),
              " has no TOML form (use bool, int, float, str, list or dict)");
  }
}

toml::array to_array(const py::handle& v, const std::string& key) {
  toml::array a;
  size_t i = 0;
  for (auto x : v) add_value(x, key + "." + std::to_string(++i), [&](auto&& y) { a.push_back(std::move(y)); });
  return a;
}

void fill_table(toml::table& t, const py::dict& d, const std::string& key) {
  for (auto [k, x] : d) {
    const std::string name = py::str(k);
    add_value(x, key.empty() ? name : key + "." + name, [&](auto&& y) { t.insert_or_assign(name, std::move(y)); });
  }
}

std::string dict_to_toml(const py::dict& d) {
  toml::table t;
  fill_table(t, d, "");
  std::ostringstream os;
  os << t;
  return os.str();
}

py::list populations(const Config& c) {
  py::list l;
  for (const auto& p : c.net.pops) {
    py::dict d;
    d["name"] = p.name;
    d["kind"] = to_string(p.kind);
    d["size"] = p.size;
    l.append(d);
  }
  return l;
}

py::list connections(const Config& c) {
  py::list l;
  for (const auto& k : c.net.conns) {
    py::dict d;
    d["name"] = k.name;
    d["pre"] = c.net.pops[k.pre].name;
    d["post"] = c.net.pops[k.post].name;
    d["shape"] = py::make_tuple(k.n_pre, k.n_post);
    d["max_delay"] = k.max_delay_ms;
    l.append(d);
  }
  return l;
}

// ---- parameters -----------------------------------------------------------------------------

// {connection: {"weights": (n_pre, n_post), "delays": (n_pre, n_post)}}, as the files name them.
py::dict params_to_dict(const Network& net, const std::vector<double>& flat) {
  py::dict d;
  for (const auto& c : net.conns) {
    const std::vector<py::ssize_t> shape{py::ssize_t(c.n_pre), py::ssize_t(c.n_post)};
    py::dict g;
    g["weights"] = to_numpy(flat.data() + c.weight_offset, shape);
    g["delays"] = to_numpy(flat.data() + c.delay_offset, shape);
    d[py::str(c.name)] = g;
  }
  return d;
}

std::vector<double> params_from_dict(const Network& net, const py::handle& obj) {
  if (!py::isinstance<py::dict>(obj)) bad_value("params: expected a dict {connection: {'weights', 'delays'}}");
  const auto d = obj.cast<py::dict>();
  std::vector<double> flat(net.n_params);
  for (auto [k, v] : d) {
    const std::string name = py::str(k);
    bool known = false;
    for (const auto& c : net.conns) known |= c.name == name;
    if (!known) bad_value("params: unknown connection '", name, "'");
  }
  for (const auto& c : net.conns) {
    if (!d.contains(c.name)) bad_value("params: connection '", c.name, "' is missing");
    py::handle g = d[py::str(c.name)];
    if (!py::isinstance<py::dict>(g)) bad_value("params['", c.name, "']: expected a dict with 'weights' and 'delays'");
    const auto gd = g.cast<py::dict>();
    for (auto [k, v] : gd) {
      const std::string field = py::str(k);
      if (field != "weights" && field != "delays") bad_value("params['", c.name, "']: unknown field '", field, "'");
    }
    for (const char* field : {"weights", "delays"}) {
      const std::string what = "params['" + c.name + "']['" + field + "']";
      if (!gd.contains(field)) bad_value(what, " is missing");
      const F64Array a = as_f64(gd[field], {py::ssize_t(c.n_pre), py::ssize_t(c.n_post)}, what);
      std::copy(a.data(), a.data() + a.size(),
                flat.begin() + ptrdiff_t(field[0] == 'w' ? c.weight_offset : c.delay_offset));
    }
  }
  try {
    check_params(net, flat);
  } catch (const Error& e) {
    bad_value("params: ", e.what());
  }
  return flat;
}

// ---- batches --------------------------------------------------------------------------------

struct Batch {
  SpikeBatch spikes;
  std::vector<int32_t> labels;
  BatchStats stats;
  bool has_labels = true;
};

std::vector<int32_t> checked_labels(const Config& cfg, const py::handle& obj, uint32_t n) {
  const auto a = I64Array::ensure(obj);
  if (!a || a.ndim() != 1 || a.shape(0) != py::ssize_t(n)) {
    PyErr_Clear();
    bad_value("labels: expected ", n, " integer labels, one per sample");
  }
  const uint32_t K = cfg.net.pops[cfg.net.output].size;
  std::vector<int32_t> l(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (a.data()[i] < 0 || a.data()[i] >= int64_t(K)) bad_value("labels[", i, "] = ", a.data()[i], " is outside [0, ", K, ")");
    l[i] = int32_t(a.data()[i]);
  }
  return l;
}

// Samples as the package hands them over: [(times in ms, float64), (units, int64)] and labels
// (None = unlabelled); batched as the config's data set is (set_batching).
EventDataset to_dataset(const Config& cfg, const py::list& samples, const py::object& labels) {
  const Network& net = cfg.net;
  EventDataset data;
  data.n_channels = data_channels(cfg.data, net);
  data.n_classes = net.pops[net.output].size;
  data.source = "numpy events";
  data.has_labels = !labels.is_none();
  set_batching(data, cfg.data);
  const std::vector<int32_t> lab =
      data.has_labels ? checked_labels(cfg, labels, uint32_t(samples.size())) : std::vector<int32_t>(samples.size(), -1);
  data.samples.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto pair = samples[i].cast<py::tuple>();
    const std::string what = "sample " + std::to_string(i);
    const F64Array t = F64Array::ensure(pair[0]);
    const auto u = I64Array::ensure(pair[1]);
    if (!t || !u || t.ndim() != 1 || u.ndim() != 1 || t.shape(0) != u.shape(0)) {
      PyErr_Clear();
      bad_value(what, ": expected 1-D times and units of one length");
    }
    EventSample& s = data.samples[i];
    s.times_ms.assign(t.data(), t.data() + t.size());
    s.units.resize(size_t(u.size()));
    for (py::ssize_t e = 0; e < u.size(); ++e) {
      const int64_t x = u.data()[e];
      if (x < 0 || x >= int64_t(data.n_channels))
        bad_value(what, " event ", e, ": unit ", x, " is outside [0, ", data.n_channels, ")");
      s.units[size_t(e)] = uint32_t(x);
    }
    s.label = lab[i];
  }
  return data;
}

std::vector<uint32_t> all_samples(const EventDataset& d) {
  std::vector<uint32_t> idx(d.samples.size());
  for (uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

std::shared_ptr<Batch> batch_of(const Config& cfg, const EventDataset& data) {
  auto b = std::make_shared<Batch>();
  b->has_labels = data.has_labels;
  const auto idx = all_samples(data);
  py::gil_scoped_release nogil;
  make_batch(data, idx, cfg.net, b->spikes, b->labels, b->stats);
  return b;
}

// ---- engine ---------------------------------------------------------------------------------

struct Forward {
  ForwardOutputs out;
  std::vector<std::string> pop_names;
};

py::dict spike_counts(const Forward& f) {
  py::dict d;
  for (size_t p = 0; p < f.out.spike_counts.size(); ++p)
    if (!f.out.spike_counts[p].empty())
      d[py::str(f.pop_names[p])] =
          to_numpy(f.out.spike_counts[p].data(), {py::ssize_t(f.out.spike_counts[p].size())});
  return d;
}

py::dict loss_dict(const LossResult& r, const BackwardInputs& bin, const ForwardOutputs& out) {
  py::dict d;
  d["loss"] = r.loss;
  d["correct"] = r.correct;
  d["prediction"] = to_numpy(r.prediction.data(), {py::ssize_t(r.prediction.size())});
  d["output_grad"] = to_numpy(bin.output_grad.data(), {py::ssize_t(out.n_samples), py::ssize_t(out.n_outputs)});
  return d;
}

class PyEngine {
 public:
  PyEngine(ConfigPtr cfg, EngineOptions opt) : cfg_(std::move(cfg)) {
    py::gil_scoped_release nogil;
    check_engine_memory(cfg_->net, opt, cfg_->source);
    engine_ = make_engine(cfg_->net, opt);
  }

  std::shared_ptr<Forward> forward(const py::handle& params, const Batch& batch) {
    const std::vector<double> p = params_from_dict(cfg_->net, params);
    auto f = std::make_shared<Forward>();
    for (const auto& pop : cfg_->net.pops) f->pop_names.push_back(pop.name);
    {
      py::gil_scoped_release nogil;
      std::lock_guard lock(mu_);
      engine_->forward(p, batch.spikes, f->out);
      last_n_ = batch.spikes.n_samples;
    }
    return f;
  }

  // dL/dy (or dL/dt of first-spike outputs, 1/ms) of the last forward's batch, and optional
  // regulariser kicks per LIF population; returns the gradients like the parameters.
  py::dict backward(const py::handle& params, const py::handle& output_grad, const py::object& kicks) {
    if (last_n_ == 0) bad_value("backward: call forward first");
    const Network& net = cfg_->net;
    const std::vector<double> p = params_from_dict(net, params);
    BackwardInputs bin;
    const uint32_t K = net.pops[net.output].size;
    const F64Array g = as_f64(output_grad, {py::ssize_t(last_n_), py::ssize_t(K)}, "output_grad");
    bin.output_grad.assign(g.data(), g.data() + g.size());
    for (size_t i = 0; i < bin.output_grad.size(); ++i)
      if (!std::isfinite(bin.output_grad[i]))
        bad_value("output_grad: element ", i / K, ", ", i % K, " is ", bin.output_grad[i]);
    if (!kicks.is_none()) {
      const auto d = kicks.cast<py::dict>();
      bin.spike_kick.resize(net.pops.size());
      for (auto [k, v] : d) {
        const std::string name = py::str(k);
        const uint32_t pop = find_population(name, "spike_kick");
        bin.spike_kick[pop].clear();
        const F64Array a = as_f64(v, {py::ssize_t(net.pops[pop].size)}, "spike_kick['" + name + "']");
        bin.spike_kick[pop].assign(a.data(), a.data() + a.size());
      }
    }
    return gradients_of(p, bin);
  }

  // What delayprop-grad computes for a batch: forward, the config's loss, the regulariser
  // kicks, backward.
  py::dict gradients(const py::handle& params, const Batch& batch) {
    if (!batch.has_labels) bad_value("gradients: the batch has no labels");
    const std::shared_ptr<Forward> f = forward(params, batch);
    BackwardInputs bin;
    const LossResult r = compute_loss(cfg_->loss, f->out, batch.labels, batch.spikes.n_samples, bin);
    bin.spike_kick = regulariser_kicks(cfg_->reg, cfg_->net, f->out.spike_counts, batch.spikes.n_samples);
    py::dict d = loss_dict(r, bin, f->out);
    d["forward"] = f;
    d["grad"] = gradients_of(params_from_dict(cfg_->net, params), bin);
    return d;
  }

  size_t memory_bytes() const { return engine_->memory_bytes(); }
  const ConfigPtr& config() const { return cfg_; }

 private:
  uint32_t find_population(const std::string& name, const char* what) const {
    for (uint32_t p = 0; p < cfg_->net.pops.size(); ++p)
      if (cfg_->net.pops[p].name == name) return p;
    bad_value(what, ": unknown population '", name, "'");
  }

  py::dict gradients_of(const std::vector<double>& p, const BackwardInputs& bin) {
    std::vector<double> grad(cfg_->net.n_params);
    {
      py::gil_scoped_release nogil;
      std::lock_guard lock(mu_);
      engine_->backward(p, bin, grad);
    }
    return params_to_dict(cfg_->net, grad);
  }

  ConfigPtr cfg_;
  std::unique_ptr<Engine> engine_;
  std::mutex mu_;  // one engine call at a time: the engine keeps the tape between calls
  uint32_t last_n_ = 0;
};

// ---- evaluation and training ----------------------------------------------------------------

py::dict eval_dict(const Config& cfg, const EvalResult& r) {
  const py::ssize_t n = py::ssize_t(r.n), K = py::ssize_t(r.n_classes);
  py::dict d;
  d["n"] = r.n;
  d["loss"] = r.loss;
  d["correct"] = r.correct;
  d["accuracy"] = r.accuracy();
  d["labels"] = to_numpy(r.labels.data(), {n});
  d["prediction"] = to_numpy(r.prediction.data(), {n});
  d["readout"] = to_numpy(r.readout.data(), {n, K});
  d["first_spike_step"] = to_numpy(r.first_spike_step.data(), {n, K});
  if (r.has_labels) d["confusion"] = to_numpy(r.confusion.data(), {K, K});
  py::dict counts;
  for (size_t p = 0; p < r.spike_counts.size(); ++p)
    if (!r.spike_counts[p].empty())
      counts[py::str(cfg.net.pops[p].name)] = to_numpy(r.spike_counts[p].data(), {py::ssize_t(r.spike_counts[p].size())});
  d["spike_counts"] = counts;
  d["dropped_late_events"] = r.stats.dropped_late;
  return d;
}

py::dict run_evaluate(const Config& cfg, const std::vector<double>& params, const EventDataset& data,
                      uint32_t batch_size) {
  if (data.samples.empty()) bad_value("evaluate: no samples");
  EvalResult r;
  {
    py::gil_scoped_release nogil;
    auto comm = dist::make_local_communicator();
    auto engine = make_engine(cfg.net, cfg.engine);
    r = evaluate(cfg.net, cfg.loss, *engine, *comm, data, params,
                 batch_size ? batch_size : eval_batch_size(cfg.train.batch_size), true);
  }
  return eval_dict(cfg, r);
}

struct StopFlag {
  std::atomic<int> flag{0};
};

std::string run_train(const ConfigPtr& cfg, const std::string& out_dir, bool resume, bool overwrite, bool force,
                      bool progress, StopFlag& stop, const py::object& on_epoch) {
  TrainOptions opt{.out_dir = out_dir, .resume = resume, .overwrite = overwrite, .force = force,
                   .progress = progress, .stop = &stop.flag, .on_epoch = {}};
  if (!on_epoch.is_none()) {
    // A borrowed handle: the caller's reference keeps the callable alive, and copies of the
    // std::function (the trainer keeps one) then touch no reference count without the GIL.
    const py::handle cb = on_epoch;
    opt.on_epoch = [cb](const std::string& metrics) {
      py::gil_scoped_acquire gil;
      cb(metrics);
    };
  }
  py::gil_scoped_release nogil;
  auto comm = dist::make_local_communicator();
  return train(*cfg, *comm, opt);
}

ConfigPtr config_from_toml(const std::string& text, const std::string& source, const std::vector<std::string>& sets) {
  return std::make_shared<Config>(parse_config(text, source, sets));
}

PyObject* g_error = nullptr;
PyObject* g_preempted = nullptr;

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "delayprop: spiking networks with learnable weights and delays (the C++ binding)";
  // Created once and kept for the life of the process, like the built-in exception types.
  g_error = PyErr_NewException("delayprop.Error", PyExc_RuntimeError, nullptr);
  g_preempted = PyErr_NewException("delayprop.Preempted", g_error, nullptr);
  m.attr("Error") = py::handle(g_error);
  m.attr("Preempted") = py::handle(g_preempted);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(g_error, one_line(e.what()).c_str());
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, one_line(e.what()).c_str());
    } catch (const Preempted& e) {
      PyErr_SetString(g_preempted, one_line(e.what()).c_str());
    }
  });

  py::class_<Config, std::shared_ptr<Config>>(m, "Config", "A checked run configuration (docs/CONFIG.md)")
      .def_static("from_file", [](const Path& path, const std::vector<std::string>& sets) {
            return ConfigPtr(std::make_shared<Config>(load_config(path.string(), sets)));
          }, py::arg("path"), py::arg("overrides") = std::vector<std::string>{})
      .def_static("from_toml", &config_from_toml, py::arg("text"), py::arg("source") = "<string>",
                  py::arg("overrides") = std::vector<std::string>{})
      .def_static("from_dict", [](const py::dict& d, const std::vector<std::string>& sets) {
            return config_from_toml(dict_to_toml(d), "<dict>", sets);
          }, py::arg("config"), py::arg("overrides") = std::vector<std::string>{})
      .def("with_overrides", [](const Config& c, const std::vector<std::string>& sets) {
            return config_from_toml(c.resolved_toml, c.source, sets);
          }, py::arg("overrides"))
      .def_property_readonly("toml", [](const Config& c) { return c.resolved_toml; })
      .def_property_readonly("source", [](const Config& c) { return c.source; })
      .def_property_readonly("dt", [](const Config& c) { return c.net.dt; })
      .def_property_readonly("n_steps", [](const Config& c) { return c.net.n_steps; })
      .def_property_readonly("n_input_channels", [](const Config& c) { return c.net.n_input_channels; })
      .def_property_readonly("n_outputs", [](const Config& c) { return c.net.pops[c.net.output].size; })
      .def_property_readonly("seed", [](const Config& c) { return c.train.seed; })
      .def_property_readonly("populations", &populations)
      .def_property_readonly("connections", &connections)
      .def("init_params", [](const Config& c, uint64_t seed) { return params_to_dict(c.net, init_params(c.net, seed)); },
           py::arg("seed"), "Initial parameters drawn as the trainer draws them for this seed")
      .def("__repr__", [](const Config& c) { return "<delayprop.Config from " + c.source + ">"; });

  py::class_<Batch, std::shared_ptr<Batch>>(m, "Batch", "Input spikes of a batch (CSR), built by make_batch")
      .def_property_readonly("n_samples", [](const Batch& b) { return b.spikes.n_samples; })
      .def_property_readonly("labels", [](const Batch& b) -> py::object {
            if (!b.has_labels) return py::none();
            return to_numpy(b.labels.data(), {py::ssize_t(b.labels.size())});
          })
      .def_property_readonly("offsets", [](const Batch& b) { return to_numpy(b.spikes.offsets.data(), {py::ssize_t(b.spikes.offsets.size())}); })
      .def_property_readonly("steps", [](const Batch& b) { return to_numpy(b.spikes.steps.data(), {py::ssize_t(b.spikes.steps.size())}); })
      .def_property_readonly("channels", [](const Batch& b) { return to_numpy(b.spikes.channels.data(), {py::ssize_t(b.spikes.channels.size())}); })
      .def_property_readonly("stats", [](const Batch& b) {
            py::dict d;
            d["events"] = b.stats.events;
            d["spikes"] = b.stats.spikes;
            d["merged"] = b.stats.merged;
            d["dropped_late"] = b.stats.dropped_late;
            return d;
          })
      .def("__len__", [](const Batch& b) { return b.spikes.n_samples; });

  m.def("make_batch", [](const ConfigPtr& cfg, const py::list& samples, const py::object& labels) {
          return batch_of(*cfg, to_dataset(*cfg, samples, labels));
        }, py::arg("config"), py::arg("samples"), py::arg("labels") = py::none());
  m.def("read_batch", [](const ConfigPtr& cfg, const Path& path) {
          return batch_of(*cfg, read_input_events(path.string(), cfg->data, cfg->net, true));
        }, py::arg("config"), py::arg("path"), "A batch file (docs/FORMATS.md), batched as delayprop-grad does");

  py::class_<Forward, std::shared_ptr<Forward>>(m, "Forward", "What Engine.forward returns")
      .def_property_readonly("n_samples", [](const Forward& f) { return f.out.n_samples; })
      .def_property_readonly("readout", [](const Forward& f) {
            return to_numpy(f.out.readout.data(), {py::ssize_t(f.out.n_samples), py::ssize_t(f.out.n_outputs)});
          })
      .def_property_readonly("first_spike_step", [](const Forward& f) {
            return to_numpy(f.out.first_spike_step.data(), {py::ssize_t(f.out.n_samples), py::ssize_t(f.out.n_outputs)});
          })
      .def_property_readonly("spike_counts", &spike_counts)
      .def_property_readonly("hidden_spikes", [](const Forward& f) { return f.out.hidden_spikes; })
      .def_property_readonly("input_spikes", [](const Forward& f) { return f.out.input_spikes; })
      .def_property_readonly("synaptic_events", [](const Forward& f) { return f.out.synaptic_events; });

  py::class_<PyEngine>(m, "Engine")
      .def(py::init([](const ConfigPtr& cfg, const std::optional<std::string>& backend,
                       const std::optional<std::string>& precision, const std::optional<int>& threads,
                       const std::optional<std::string>& simd, const std::optional<int>& device) {
             EngineOptions o = cfg->engine;
             if (backend) o.backend = *backend;
             if (precision) {
               if (*precision != "float32" && *precision != "float64")
                 bad_value("precision must be 'float32' or 'float64', got '", *precision, "'");
               o.precision = *precision == "float32" ? Precision::Float32 : Precision::Float64;
             }
             if (threads) {
               if (*threads < 1 || *threads > kMaxThreads) bad_value("threads must be in [1, ", kMaxThreads, "], got ", *threads);
               o.threads = *threads;
             }
             if (simd) o.simd = *simd;
             if (device) o.device = *device;
             return std::make_unique<PyEngine>(cfg, o);
           }),
           py::arg("config"), py::kw_only(), py::arg("backend") = py::none(), py::arg("precision") = py::none(),
           py::arg("threads") = py::none(), py::arg("simd") = py::none(), py::arg("device") = py::none())
      .def("forward", &PyEngine::forward, py::arg("params"), py::arg("batch"))
      .def("backward", &PyEngine::backward, py::arg("params"), py::arg("output_grad"),
           py::arg("spike_kick") = py::none())
      .def("gradients", &PyEngine::gradients, py::arg("params"), py::arg("batch"))
      .def_property_readonly("config", &PyEngine::config)
      .def_property_readonly("memory_bytes", &PyEngine::memory_bytes);

  m.def("loss", [](const ConfigPtr& cfg, const Forward& f, const py::handle& labels) {
          const std::vector<int32_t> l = checked_labels(*cfg, labels, f.out.n_samples);
          BackwardInputs bin;
          const LossResult r = compute_loss(cfg->loss, f.out, l, f.out.n_samples, bin);
          return loss_dict(r, bin, f.out);
        }, py::arg("config"), py::arg("forward"), py::arg("labels"));
  m.def("regulariser_kicks", [](const ConfigPtr& cfg, const Forward& f) {
          const auto k = regulariser_kicks(cfg->reg, cfg->net, f.out.spike_counts, f.out.n_samples);
          py::dict d;
          for (size_t p = 0; p < k.size(); ++p)
            if (!k[p].empty()) d[py::str(cfg->net.pops[p].name)] = to_numpy(k[p].data(), {py::ssize_t(k[p].size())});
          return d;
        }, py::arg("config"), py::arg("forward"));

  m.def("read_params", [](const ConfigPtr& cfg, const Path& file, const std::string& which,
                          const std::string& group) {
          const std::string path = file.string();
          if (which != "best" && which != "last") bad_value("which must be 'best' or 'last', got '", which, "'");
          if (!is_model_or_checkpoint(path)) return params_to_dict(cfg->net, read_params(cfg->net, path, group));
          return params_to_dict(cfg->net, read_model_params(open_model(path), cfg->net, which == "best"));
        }, py::arg("config"), py::arg("path"), py::arg("which") = "best", py::arg("group") = "",
        "Parameters of a model file or checkpoint (best or last), or of a parameter file (its group: "
        "\"\" or, in delayprop-grad's output, \"/params\" and \"/grad\")");
  m.def("read_gradients", [](const ConfigPtr& cfg, const Path& path, const std::string& group) {
          return params_to_dict(cfg->net, read_gradients(cfg->net, path.string(), group));
        }, py::arg("config"), py::arg("path"), py::arg("group") = "/grad",
        "Gradients written by delayprop-grad, like the parameters");
  m.def("load_model", [](const Path& path, const std::string& which, const std::vector<std::string>& sets) {
          LoadedModel lm = load_model(path.string(), "", sets, which);
          auto cfg = std::make_shared<Config>(std::move(lm.cfg));
          py::dict params = params_to_dict(cfg->net, lm.params);
          return py::make_tuple(ConfigPtr(cfg), params);
        }, py::arg("path"), py::arg("which") = "best", py::arg("overrides") = std::vector<std::string>{});
  m.def("write_params", [](const ConfigPtr& cfg, const py::handle& params, const Path& path) {
          const std::vector<double> p = params_from_dict(cfg->net, params);
          auto f = h5::File::create(path.string());
          write_params(cfg->net, p, f);
          f.close();
        }, py::arg("config"), py::arg("params"), py::arg("path"));
  m.def("write_model", [](const ConfigPtr& cfg, const Path& path, const py::handle& best, const py::object& last) {
          const std::vector<double> b = params_from_dict(cfg->net, best);
          const std::vector<double> l = last.is_none() ? b : params_from_dict(cfg->net, last);
          ModelMeta meta;
          meta.config_toml = cfg->resolved_toml;
          write_model(path.string(), cfg->net, b, l, meta);
        }, py::arg("config"), py::arg("path"), py::arg("best"), py::arg("last") = py::none());

  m.def("write_checkpoint", [](const ConfigPtr& cfg, const py::handle& params, const Path& dir) {
          TrainState st;
          st.params = params_from_dict(cfg->net, params);
          st.best_params = st.params;
          st.adam_m.assign(cfg->net.n_params, 0.0);
          st.adam_v.assign(cfg->net.n_params, 0.0);
          std::filesystem::create_directories(dir);
          write_checkpoint(dir.string(), cfg->net, st, cfg->resolved_toml, 1);
        }, py::arg("config"), py::arg("params"), py::arg("out_dir"),
        "A checkpoint before the first batch (Adam state zero): train(config, out_dir, resume=True) "
        "then trains from these parameters");
  m.def("evaluate_split", [](const ConfigPtr& cfg, const py::handle& params, const std::string& split, uint32_t batch_size) {
          if (split != "train" && split != "valid" && split != "test")
            bad_value("split must be 'train', 'valid' or 'test', got '", split, "'");
          const std::vector<double> p = params_from_dict(cfg->net, params);
          DataSplits d;
          {
            py::gil_scoped_release nogil;
            d = load_dataset(cfg->data, cfg->net);
          }
          if (split == "valid" && !d.has_valid) bad_value("evaluate: the config's data set has no validation split");
          return run_evaluate(*cfg, p, split == "train" ? d.train : split == "valid" ? d.valid : d.test, batch_size);
        }, py::arg("config"), py::arg("params"), py::arg("split"), py::arg("batch_size") = 0);
  m.def("evaluate_samples", [](const ConfigPtr& cfg, const py::handle& params, const py::list& samples,
                               const py::object& labels, uint32_t batch_size) {
          return run_evaluate(*cfg, params_from_dict(cfg->net, params), to_dataset(*cfg, samples, labels), batch_size);
        }, py::arg("config"), py::arg("params"), py::arg("samples"), py::arg("labels"), py::arg("batch_size") = 0);

  m.def("build_info", [] {
    const BuildInfo& b = build_info();
    py::dict d;
    d["version"] = b.version;
    d["git_commit"] = b.git_commit;
    d["options"] = b.options;
    return d;
  }, "The library's version, git commit and build options (as the drivers' --version)");
  py::class_<StopFlag>(m, "StopFlag", "Asks a running train() to checkpoint and stop at the next batch")
      .def(py::init<>())
      .def("set", [](StopFlag& s) { s.flag.store(1); })
      .def("is_set", [](const StopFlag& s) { return s.flag.load() != 0; });
  m.def("train", &run_train, py::arg("config"), py::arg("out_dir"), py::arg("resume"), py::arg("overwrite"),
        py::arg("force"), py::arg("progress"), py::arg("stop"), py::arg("on_epoch"));
}
