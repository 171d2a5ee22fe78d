#include "io/config.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <utility>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/error.hpp"
#include "io/files.hpp"

namespace delayprop {
namespace {

// Reads typed values from a TOML table and remembers which keys were read, so that every
// key the schema does not know is reported.
class Reader {
 public:
  Reader(const toml::table& t, std::string source) : root_(t), source_(std::move(source)) {}

  template <typename T>
  T get(const toml::table& t, const std::string& prefix, const std::string& key, const T& fallback, bool required = false) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    used_.insert(path);
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(source_, ": missing config key '", path, "'");
      return fallback;
    }
    if constexpr (std::is_same_v<T, bool>) {
      if (auto v = n->value_exact<bool>()) return *v;
      fail(source_, ": config key '", path, "' must be true or false");
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = n->value_exact<std::string>()) return *v;
      fail(source_, ": config key '", path, "' must be a string");
    } else if constexpr (std::is_floating_point_v<T>) {
      if (auto v = n->value<double>()) return T(*v);
      fail(source_, ": config key '", path, "' must be a number");
    } else {
      if (auto v = n->value_exact<int64_t>()) {
        // Checked in the key's declared width: a value that does not fit is an error, never
        // wrapped (steps = 4294967297 is not one step).
        using L = std::numeric_limits<T>;
        if (*v < 0 && std::is_unsigned_v<T>) fail(source_, ": config key '", path, "' must be >= 0, got ", *v);
        if (std::cmp_less(*v, L::min()) || std::cmp_greater(*v, L::max()))
          fail(source_, ": config key '", path, "' = ", *v, " is out of range [", +L::min(), ", ", +L::max(), "]");
        return T(*v);
      }
      fail(source_, ": config key '", path, "' must be an integer");
    }
  }

  const toml::table* table(const toml::table& t, const std::string& prefix, const std::string& key) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    used_.insert(path);
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(source_, ": config key '", path, "' must be a table");
    return n->as_table();
  }

  const toml::array* array(const toml::table& t, const std::string& prefix, const std::string& key) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    used_.insert(path);
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_array()) fail(source_, ": config key '", path, "' must be an array");
    return n->as_array();
  }

  void check_unused() const { walk(root_, ""); }
  const std::string& source() const { return source_; }

 private:
  void walk(const toml::table& t, const std::string& prefix) const {
    for (const auto& [k, v] : t) {
      const std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (!used_.count(path)) fail(source_, ": unknown config key '", path, "'");
      if (v.is_table()) walk(*v.as_table(), path);
      if (v.is_array())
        for (size_t i = 0; i < v.as_array()->size(); ++i)
          if (auto* sub = v.as_array()->get(i)->as_table()) walk(*sub, path + "." + std::to_string(i));
    }
  }
  const toml::table& root_;
  std::string source_;
  std::set<std::string> used_;
};

toml::table parse_text(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ": " << e.description();
    throw Error(os.str());
  }
}

// "a.b.2.c=value": tables by name, arrays by index; the value is TOML, or a bare string.
void apply_override(toml::table& root, const std::string& item) {
  const auto eq = item.find('=');
  require(eq != std::string::npos && eq > 0, "--set '", item, "': expected key=value");
  const std::string key = item.substr(0, eq), text = item.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  toml::node_view<toml::node> cur{root};
  toml::table* parent = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* next = nullptr;
    if (parent) {
      next = parent->get(parts[i]);
      if (!next) {
        parent->insert(parts[i], toml::table{});
        next = parent->get(parts[i]);
      }
    }
    require(next != nullptr, "--set '", key, "': cannot resolve '", parts[i], "'");
    if (next->is_array()) {
      auto* arr = next->as_array();
      require(i + 2 < parts.size(), "--set '", key, "': an array needs an index and a key");
      const std::string& is = parts[++i];
      require(!is.empty() && is.size() < 10 && is.find_first_not_of("0123456789") == std::string::npos, "--set '", key,
              "': '", is, "' is not an array index (a number below ", arr->size(), ")");
      const size_t idx = std::stoul(is);
      require(idx < arr->size() && arr->get(idx)->is_table(), "--set '", key, "': index ", idx, " out of range");
      parent = arr->get(idx)->as_table();
    } else {
      require(next->is_table(), "--set '", key, "': '", parts[i], "' is not a table");
      parent = next->as_table();
    }
  }
  toml::table value;
  try {
    value = toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
    value.insert("v", text);  // a bare word is a string
  }
  parent->insert_or_assign(parts.back(), *value.get("v"));
}

InitSpec read_init(Reader& r, const toml::table& conn, const std::string& prefix, const std::string& key,
                   InitSpec fallback) {
  const toml::table* t = r.table(conn, prefix, key);
  if (!t) return fallback;
  const std::string p = prefix + "." + key;
  const std::string dist = r.get<std::string>(*t, p, "dist", "constant");
  InitSpec s;
  if (dist == "constant") {
    s.dist = InitSpec::Dist::Constant;
    s.a = r.get<double>(*t, p, "value", 0.0, true);
  } else if (dist == "normal") {
    s.dist = InitSpec::Dist::Normal;
    s.a = r.get<double>(*t, p, "mean", 0.0, true);
    s.b = r.get<double>(*t, p, "sd", 0.0, true);
  } else if (dist == "uniform") {
    s.dist = InitSpec::Dist::Uniform;
    s.a = r.get<double>(*t, p, "low", 0.0, true);
    s.b = r.get<double>(*t, p, "high", 0.0, true);
  } else if (dist == "values") {
    s.dist = InitSpec::Dist::Values;
    const toml::array* rows = r.array(*t, p, "values");
    require(rows != nullptr, r.source(), ": missing config key '", p, ".values'");
    // Either a flat list or a list of rows (one per presynaptic neuron).
    for (size_t i = 0; i < rows->size(); ++i) {
      const toml::node* n = rows->get(i);
      if (const auto* row = n->as_array()) {
        for (size_t j = 0; j < row->size(); ++j) {
          auto v = row->get(j)->value<double>();
          require(v.has_value(), r.source(), ": ", p, ".values[", i, "][", j, "] must be a number");
          s.values.push_back(*v);
        }
      } else {
        auto v = n->value<double>();
        require(v.has_value(), r.source(), ": ", p, ".values[", i, "] must be a number");
        s.values.push_back(*v);
      }
    }
  } else {
    fail(r.source(), ": ", p, ".dist: unknown distribution '", dist, "' (constant, normal, uniform, values)");
  }
  return s;
}

Readout parse_readout(const std::string& s, const std::string& where) {
  if (s == "none") return Readout::None;
  if (s == "sum_exp") return Readout::SumExp;
  if (s == "average") return Readout::Average;
  if (s == "max") return Readout::Max;
  if (s == "first_spike") return Readout::FirstSpike;
  fail(where, ": unknown readout '", s, "' (none, sum_exp, average, max, first_spike)");
}

}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  require_regular_file(path, "config file");
  std::ifstream f(path);
  require(f.good(), path, ": cannot open config file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), path, overrides);
}

Config parse_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides) {
  toml::table root = parse_text(text, source);
  for (const auto& o : overrides) apply_override(root, o);
  Reader r(root, source);
  Config c;
  c.source = source;

  const toml::table* net = r.table(root, "", "network");
  require(net != nullptr, source, ": missing [network] section");
  c.net.dt = r.get<double>(*net, "network", "dt", 1.0, true);
  const double duration = r.get<double>(*net, "network", "duration", 0.0);
  uint32_t steps = r.get<uint32_t>(*net, "network", "steps", 0);
  if (steps == 0) {
    require(duration > 0, source, ": network needs 'steps' or a positive 'duration' (ms)");
    require(c.net.dt > 0 && std::isfinite(c.net.dt), source, ": network.dt must be positive, got ", c.net.dt);
    const double n = std::round(duration / c.net.dt);
    require(std::isfinite(n) && n >= 1 && n <= double(std::numeric_limits<int32_t>::max()), source,
            ": network.duration = ", duration, " at network.dt = ", c.net.dt, " gives ", n,
            " steps, out of range [1, 2147483647]");
    steps = uint32_t(n);
  }
  require(steps <= uint32_t(std::numeric_limits<int32_t>::max()), source, ": network.steps = ", steps,
          " is out of range [1, 2147483647]");
  c.net.n_steps = steps;

  const toml::array* pops = r.array(*net, "network", "population");
  require(pops && !pops->empty(), source, ": network needs [[network.population]] entries");
  for (size_t i = 0; i < pops->size(); ++i) {
    const std::string pfx = "network.population." + std::to_string(i);
    const toml::table* t = pops->get(i)->as_table();
    require(t != nullptr, source, ": ", pfx, " must be a table");
    Population p;
    p.name = r.get<std::string>(*t, pfx, "name", "", true);
    const std::string kind = r.get<std::string>(*t, pfx, "kind", "", true);
    if (kind == "input") p.kind = PopKind::Input;
    else if (kind == "lif") p.kind = PopKind::LIF;
    else if (kind == "li") p.kind = PopKind::LI;
    else fail(source, ": ", pfx, ".kind: unknown kind '", kind, "' (input, lif, li)");
    const int64_t size = r.get<int64_t>(*t, pfx, "size", 0, true);
    require(size > 0 && size < (int64_t(1) << 31), source, ": ", pfx, ".size must be positive, got ", size);
    p.size = uint32_t(size);
    p.tau_m = r.get<double>(*t, pfx, "tau_m", 20.0);
    p.tau_s = r.get<double>(*t, pfx, "tau_s", 5.0);
    p.theta = r.get<double>(*t, pfx, "theta", 1.0);
    p.readout = parse_readout(r.get<std::string>(*t, pfx, "readout", "none"), source + ": " + pfx + ".readout");
    p.single_spike = r.get<bool>(*t, pfx, "single_spike", false);
    c.net.pops.push_back(p);
  }
  const toml::array* conns = r.array(*net, "network", "connection");
  if (conns) {
    for (size_t i = 0; i < conns->size(); ++i) {
      const std::string pfx = "network.connection." + std::to_string(i);
      const toml::table* t = conns->get(i)->as_table();
      require(t != nullptr, source, ": ", pfx, " must be a table");
      Connection cn;
      cn.name = r.get<std::string>(*t, pfx, "name", "", true);
      try {
        cn.pre = c.net.find_population(r.get<std::string>(*t, pfx, "pre", "", true));
        cn.post = c.net.find_population(r.get<std::string>(*t, pfx, "post", "", true));
      } catch (const Error& e) {
        fail(source, ": ", pfx, ": ", e.what());
      }
      cn.recurrent = r.get<bool>(*t, pfx, "recurrent", false);
      cn.max_delay_ms = r.get<double>(*t, pfx, "max_delay", 0.0, true);
      cn.learn_weights = r.get<bool>(*t, pfx, "learn_weights", true);
      cn.learn_delays = r.get<bool>(*t, pfx, "learn_delays", true);
      cn.weight_init = read_init(r, *t, pfx, "weight_init", {InitSpec::Dist::Constant, 0.0, 0.0});
      cn.delay_init = read_init(r, *t, pfx, "delay_init", {InitSpec::Dist::Constant, 0.0, 0.0});
      c.net.conns.push_back(cn);
    }
  }
  try {
    c.net.finalize();
  } catch (const Error& e) {
    fail(source, ": ", e.what());
  }

  if (const toml::table* t = r.table(root, "", "loss")) {
    const std::string kind = r.get<std::string>(*t, "loss", "kind", "cross_entropy");
    if (kind == "cross_entropy") c.loss.kind = LossKind::CrossEntropy;
    else if (kind == "first_spike") c.loss.kind = LossKind::FirstSpike;
    else fail(source, ": loss.kind: unknown loss '", kind, "' (cross_entropy, first_spike)");
    c.loss.delta_ms = r.get<double>(*t, "loss", "delta", 2.0);
  }
  const bool first_spike_out = c.net.pops[c.net.output].readout == Readout::FirstSpike;
  require((c.loss.kind == LossKind::FirstSpike) == first_spike_out, source,
          ": loss.kind must be first_spike exactly when the output readout is first_spike");

  if (const toml::table* t = r.table(root, "", "regulariser")) {
    c.reg.nu = r.get<double>(*t, "regulariser", "nu", 14.0);
    c.reg.k_up = r.get<double>(*t, "regulariser", "k_up", 0.0);
    c.reg.k_low = r.get<double>(*t, "regulariser", "k_low", c.reg.k_up);
    c.reg.enabled = c.reg.k_up != 0.0 || c.reg.k_low != 0.0;
  }
  if (const toml::table* t = r.table(root, "", "optimizer")) {
    c.sched.lr_weights = r.get<double>(*t, "optimizer", "lr_weights", c.sched.lr_weights);
    c.sched.lr_delays = r.get<double>(*t, "optimizer", "lr_delays", c.sched.lr_delays);
    c.sched.weight_schedule = r.get<std::string>(*t, "optimizer", "weight_schedule", c.sched.weight_schedule);
    require(c.sched.weight_schedule == "constant" || c.sched.weight_schedule == "ease_in", source,
            ": optimizer.weight_schedule: unknown schedule '", c.sched.weight_schedule, "' (constant, ease_in)");
    c.sched.ease_in_start = r.get<double>(*t, "optimizer", "ease_in_start", c.sched.ease_in_start);
    c.sched.ease_in_factor = r.get<double>(*t, "optimizer", "ease_in_factor", c.sched.ease_in_factor);
    c.sched.epoch_decay = r.get<double>(*t, "optimizer", "epoch_decay", c.sched.epoch_decay);
    c.sched.delays_from_epoch = r.get<uint32_t>(*t, "optimizer", "delays_from_epoch", c.sched.delays_from_epoch);
    c.adam.beta1 = r.get<double>(*t, "optimizer", "beta1", c.adam.beta1);
    c.adam.beta2 = r.get<double>(*t, "optimizer", "beta2", c.adam.beta2);
    c.adam.eps = r.get<double>(*t, "optimizer", "eps", c.adam.eps);
  }
  if (const toml::table* t = r.table(root, "", "train")) {
    c.train.epochs = r.get<uint32_t>(*t, "train", "epochs", c.train.epochs);
    require(c.train.epochs > 0, source, ": train.epochs must be positive, got 0");
    c.train.batch_size = r.get<uint32_t>(*t, "train", "batch_size", c.train.batch_size);
    require(c.train.batch_size > 0, source, ": train.batch_size must be positive");
    c.train.seed = r.get<uint64_t>(*t, "train", "seed", c.train.seed);
    c.train.patience = r.get<uint32_t>(*t, "train", "patience", c.train.patience);
    c.train.early_stop = r.get<std::string>(*t, "train", "early_stop", c.train.early_stop);
    require(c.train.early_stop == "validation" || c.train.early_stop == "train" || c.train.early_stop == "none",
            source, ": train.early_stop: unknown value '", c.train.early_stop, "' (validation, train, none)");
    c.train.min_epochs = r.get<uint32_t>(*t, "train", "min_epochs", c.train.min_epochs);
    c.train.silent_bump = r.get<double>(*t, "train", "silent_bump", c.train.silent_bump);
    c.train.silent_below = r.get<double>(*t, "train", "silent_below", c.train.silent_below);
    require(std::isfinite(c.train.silent_below) && c.train.silent_below >= 0, source,
            ": train.silent_below must be a finite number >= 0, got ", c.train.silent_below);
    c.train.output_bump = r.get<double>(*t, "train", "output_bump", c.train.output_bump);
    c.train.checkpoint_every = r.get<uint32_t>(*t, "train", "checkpoint_every", c.train.checkpoint_every);
    c.train.max_batches = r.get<uint32_t>(*t, "train", "max_batches", c.train.max_batches);
    c.train.checkpoint_batches = r.get<uint32_t>(*t, "train", "checkpoint_batches", c.train.checkpoint_batches);
    c.train.shuffle = r.get<bool>(*t, "train", "shuffle", c.train.shuffle);
    c.train.eval_train = r.get<bool>(*t, "train", "eval_train", c.train.eval_train);
    c.train.eval_test_every_epoch = r.get<bool>(*t, "train", "eval_test_every_epoch", c.train.eval_test_every_epoch);
  }
  if (const toml::table* t = r.table(root, "", "data")) {
    c.data.kind = r.get<std::string>(*t, "data", "kind", "");
    c.data.path = r.get<std::string>(*t, "data", "path", "");
    c.data.seed = r.get<uint64_t>(*t, "data", "seed", 0);
    c.data.n_train = r.get<uint32_t>(*t, "data", "n_train", 0);
    c.data.n_valid = r.get<uint32_t>(*t, "data", "n_valid", 0);
    c.data.n_test = r.get<uint32_t>(*t, "data", "n_test", 0);
    c.data.shift = r.get<int32_t>(*t, "data", "shift", 0);
    c.data.blend = r.get<uint32_t>(*t, "data", "blend", 0);
    c.data.validation = r.get<std::string>(*t, "data", "validation", "default");
    c.data.valid_fraction = r.get<double>(*t, "data", "valid_fraction", 0.1);
    c.data.threshold = r.get<double>(*t, "data", "threshold", 5.0);
    c.data.sum_channels = r.get<uint32_t>(*t, "data", "sum_channels", 1);
    require(c.data.sum_channels >= 1, source, ": data.sum_channels must be >= 1");
    c.data.input_copies = r.get<uint32_t>(*t, "data", "input_copies", 1);
    require(c.data.input_copies >= 1, source, ": data.input_copies must be >= 1");
    require(c.net.n_input_channels % c.data.input_copies == 0, source, ": data.input_copies = ",
            c.data.input_copies, " must divide the network's ", c.net.n_input_channels, " input neurons");
  }
  if (const toml::table* t = r.table(root, "", "engine")) {
    c.engine.backend = r.get<std::string>(*t, "engine", "backend", "cpu");
    const std::string prec = r.get<std::string>(*t, "engine", "precision", "float32");
    if (prec == "float32") c.engine.precision = Precision::Float32;
    else if (prec == "float64") c.engine.precision = Precision::Float64;
    else fail(source, ": engine.precision: unknown precision '", prec, "' (float32, float64)");
    c.engine.threads = r.get<int>(*t, "engine", "threads", 1);
    require(c.engine.threads >= 1, source, ": engine.threads must be >= 1");
    // Every OpenMP thread has its own stack and workspaces: an absurd count exhausts them.
    require(c.engine.threads <= kMaxThreads, source, ": engine.threads = ", c.engine.threads, " is out of range [1, ",
            kMaxThreads, "]");
    c.engine.device = r.get<int>(*t, "engine", "device", -1);
    require(c.engine.device >= -1, source, ": engine.device must be -1 (auto: the GPU of the node-local rank) or >= 0");
    c.engine.resident = r.get<bool>(*t, "engine", "resident", true);
    c.engine.simd = r.get<std::string>(*t, "engine", "simd", "auto");
    require(c.engine.simd == "auto" || c.engine.simd == "scalar" || c.engine.simd == "avx2" ||
                c.engine.simd == "avx512",
            source, ": engine.simd: unknown value '", c.engine.simd, "' (auto, scalar, avx2, avx512)");
  }
  r.check_unused();
  std::ostringstream os;
  os << root;
  c.resolved_toml = os.str();
  return c;
}

namespace {
void flatten(const toml::table& t, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table()) {
      flatten(*sub, key, out);
    } else if (const auto* arr = v.as_array(); arr && arr->is_array_of_tables()) {
      for (size_t i = 0; i < arr->size(); ++i) flatten(*arr->get(i)->as_table(), key + "." + std::to_string(i), out);
    } else {
      std::ostringstream os;
      v.visit([&](const auto& node) { os << node; });
      out.emplace_back(key, os.str());
    }
  }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> config_entries(const Config& c) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten(toml::parse(c.resolved_toml, c.source), "", out);
  return out;
}

}  // namespace delayprop
