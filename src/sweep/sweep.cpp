#include "sweep/sweep.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/error.hpp"
#include "io/config.hpp"
#include "sweep/util.hpp"

namespace delayprop::sweep {

using json = nlohmann::json;

void Setting::merge(const Setting& o) {
  sets.insert(sets.end(), o.sets.begin(), o.sets.end());
  if (o.base) base = o.base;
  if (o.ranks) ranks = o.ranks;
  if (o.threads) threads = o.threads;
  if (o.seeds) seeds = o.seeds;
}

namespace {

// TOML text of a value (what --set expects), and a short label for names and tables.
std::string toml_text(const toml::node& n) {
  std::ostringstream os;
  n.visit([&](const auto& v) { os << v; });
  return os.str();
}
std::string value_label(const toml::node& n) {
  if (auto s = n.value<std::string>(); s && n.is_string()) return *s;
  return toml_text(n);
}

class SweepReader {
 public:
  explicit SweepReader(std::string source) : source_(std::move(source)) {}

  int64_t integer(const toml::node& n, const std::string& where) const {
    auto v = n.value<int64_t>();
    require(v.has_value() && n.is_integer(), source_, ": ", where, " must be an integer");
    return *v;
  }
  std::string string(const toml::node& n, const std::string& where) const {
    require(n.is_string(), source_, ": ", where, " must be a string");
    return *n.value<std::string>();
  }
  std::vector<std::string> strings(const toml::node& n, const std::string& where) const {
    std::vector<std::string> out;
    if (n.is_string()) return {*n.value<std::string>()};
    require(n.is_array(), source_, ": ", where, " must be a string or an array of strings");
    for (const auto& e : *n.as_array()) out.push_back(string(e, where));
    return out;
  }
  std::vector<int64_t> seeds(const toml::node& n, const std::string& where) const {
    std::vector<int64_t> out;
    if (n.is_integer()) return {integer(n, where)};
    require(n.is_array() && !n.as_array()->empty(), source_, ": ", where, " must be a non-empty array of integers");
    for (const auto& e : *n.as_array()) out.push_back(integer(e, where));
    return out;
  }
  fs::path path(const toml::node& n, const std::string& where) const {
    return fs::absolute(string(n, where)).lexically_normal();
  }

  // A key of an override set: special (base, ranks, threads, seeds, set) or a config key.
  bool special(Setting& s, const std::string& key, const toml::node& v, const std::string& where) const {
    if (key == "base") s.base = path(v, where + ".base").string();
    else if (key == "ranks") s.ranks = int(integer(v, where + ".ranks"));
    else if (key == "threads") s.threads = int(integer(v, where + ".threads"));
    else if (key == "seeds") s.seeds = seeds(v, where + ".seeds");
    else if (key == "set") {
      for (auto& item : strings(v, where + ".set")) {
        require(item.find('=') != std::string::npos, source_, ": ", where, ".set: '", item, "' is not key=value");
        s.sets.push_back(item);
      }
    } else return false;
    if (s.ranks) require(*s.ranks >= 1, source_, ": ", where, ".ranks must be >= 1");
    return true;
  }

  // A table of overrides: {"network.population.1.size" = 10, base = "...", label = "..."}.
  Setting setting(const toml::table& t, const std::string& where, std::string* label) const {
    Setting s;
    for (const auto& [k, v] : sorted(t)) {
      const std::string key(k->str());
      if (key == "label" && label) {
        *label = string(*v, where + ".label");
        continue;
      }
      if (special(s, key, *v, where)) continue;
      // An unquoted dotted key (a.b = 1) makes a nested table; insist on "a.b" = 1 so that an
      // inline table value ({dist = "constant", value = 0.0}) is never confused with a path.
      require(!(v->is_table() && !v->as_table()->is_inline()), source_, ": ", where, ".", key,
              ": write config keys quoted, e.g. \"network.population.1.size\" = 10");
      s.sets.push_back(key + "=" + toml_text(*v));
    }
    return s;
  }

  // [grid] axes: "key" = [v...] ("k1,k2" = [v...]: the same value for each key); a named axis
  // hidden = {keys = ["k1", "k2"], values = [v...]}; or a table of named levels:
  // [grid.delays] on = {} off = {"network.connection.0.learn_delays" = false}.
  std::vector<Axis> grid(const toml::table& t, const std::string& where) const {
    std::vector<Axis> axes;
    for (const auto& [k, v] : sorted(t)) {
      const std::string key(k->str());
      const std::string w = where + "." + key;
      Axis a;
      if (v->is_array()) {
        std::vector<std::string> keys;
        std::stringstream ss(key);
        for (std::string p; std::getline(ss, p, ',');)
          if (!p.empty()) keys.push_back(p);
        require(!keys.empty(), source_, ": ", w, ": empty key");
        a.column = short_key(keys[0]);
        a.prefix = a.column;
        for (const auto& e : *v->as_array()) {
          Level l;
          l.label = value_label(e);
          for (const auto& kk : keys) {
            if (!special(l.setting, kk, e, w)) l.setting.sets.push_back(kk + "=" + toml_text(e));
          }
          a.levels.push_back(l);
        }
      } else if (v->is_table() && v->as_table()->contains("values")) {
        // hidden = { keys = ["network.population.1.size", ...], values = [128, 256] }
        const toml::table& t = *v->as_table();
        a.column = key;
        a.prefix = key;
        for (const auto& [tk, tv] : t)
          require(tk.str() == "keys" || tk.str() == "values", source_, ": ", w, ": unknown key '", tk.str(),
                  "' (an axis with values takes keys and values)");
        require(t.contains("keys"), source_, ": ", w, ": needs keys = [\"config.key\", ...]");
        const std::vector<std::string> keys = strings(*t.get("keys"), w + ".keys");
        require(!keys.empty(), source_, ": ", w, ".keys is empty");
        require(t.get("values")->is_array(), source_, ": ", w, ".values must be an array");
        for (const auto& e : *t.get("values")->as_array()) {
          Level l;
          l.label = value_label(e);
          for (const auto& kk : keys)
            if (!special(l.setting, kk, e, w)) l.setting.sets.push_back(kk + "=" + toml_text(e));
          a.levels.push_back(l);
        }
      } else if (v->is_table()) {
        a.column = key;
        a.prefix = key;
        for (const auto& [lk, lv] : sorted(*v->as_table())) {
          require(lv->is_table(), source_, ": ", w, ".", lk->str(),
                  ": a level of a named axis must be a table of overrides (use {} for none)");
          Level l;
          l.label = std::string(lk->str());
          l.setting = setting(*lv->as_table(), w + "." + l.label, nullptr);
          a.levels.push_back(l);
        }
      } else {
        fail(source_, ": ", w, ": expected an array of values or a table of named levels");
      }
      require(!a.levels.empty(), source_, ": ", w, ": no values");
      axes.push_back(std::move(a));
    }
    return axes;
  }

  Group group(const toml::table& t, const std::string& where, bool top) const {
    static const std::set<std::string> top_keys = {"name", "out_dir", "train", "mpirun", "slurm", "group"};
    Group g;
    for (const auto& [k, v] : sorted(t)) {
      const std::string key(k->str());
      const std::string w = where.empty() ? key : where + "." + key;
      if (top && top_keys.count(key)) continue;
      if (!top && key == "label") g.label = string(*v, w);
      else if (key == "grid") {
        require(v->is_table(), source_, ": ", w, " must be a table");
        g.grid = grid(*v->as_table(), w);
      } else if (key == "list") {
        require(v->is_array_of_tables(), source_, ": ", w, " must be [[list]] tables");
        const auto& arr = *v->as_array();
        for (size_t i = 0; i < arr.size(); ++i) {
          Level l;
          l.setting = setting(*arr.get(i)->as_table(), w + "." + std::to_string(i), &l.label);
          g.list.push_back(l);
        }
      } else if (!special(g.setting, key, *v, w)) {
        fail(source_, ": unknown sweep key '", w, "'");
      }
    }
    return g;
  }

  SlurmSpec slurm(const toml::table& t) const {
    SlurmSpec s;
    for (const auto& [k, v] : t) {
      const std::string key(k.str()), w = "slurm." + key;
      if (key == "partition") s.partition = string(v, w);
      else if (key == "time") s.time = string(v, w);
      else if (key == "mem") s.mem = string(v, w);
      else if (key == "account") s.account = string(v, w);
      else if (key == "cpus_per_task") s.cpus_per_task = int(integer(v, w));
      else if (key == "max_parallel") s.max_parallel = int(integer(v, w));
      else if (key == "extra") s.extra = strings(v, w);
      else if (key == "setup") s.setup = strings(v, w);
      else if (key == "launcher") s.launcher = string(v, w);
      else fail(source_, ": unknown sweep key '", w, "'");
    }
    require(s.cpus_per_task >= 1, source_, ": slurm.cpus_per_task must be >= 1");
    require(s.launcher == "mpirun" || s.launcher == "srun", source_, ": slurm.launcher must be mpirun or srun");
    return s;
  }

 private:
  // toml++ tables are ordered by key; keep the order of the file instead.
  static std::vector<std::pair<const toml::key*, const toml::node*>> sorted(const toml::table& t) {
    std::vector<std::pair<const toml::key*, const toml::node*>> out;
    for (const auto& [k, v] : t) out.emplace_back(&k, &v);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      const auto& pa = a.first->source().begin;
      const auto& pb = b.first->source().begin;
      return std::tie(pa.line, pa.column) < std::tie(pb.line, pb.column);
    });
    return out;
  }
  std::string source_;
};

void write_manifest(const Sweep& s, const std::vector<Run>& runs) {
  fs::create_directories(s.out_dir);
  write_text(s.out_dir / "manifest.json", manifest_json(s, runs).dump(2) + "\n");
}

}  // namespace

Sweep parse_sweep(const std::string& text, const fs::path& file, const SweepOverrides& over) {
  const std::string source = file.string();
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail(source, ":", e.source().begin.line, ": ", e.description());
  }
  SweepReader r(source);
  Sweep s;
  s.file = fs::absolute(file).lexically_normal();
  s.name = file.stem().string();
  if (auto* n = root.get("name")) s.name = sanitize(r.string(*n, "name"));
  s.out_dir = fs::absolute(fs::path("runs") / s.name);
  if (auto* n = root.get("out_dir")) s.out_dir = r.path(*n, "out_dir");
  if (over.out_dir) s.out_dir = fs::absolute(*over.out_dir);
  s.out_dir = s.out_dir.lexically_normal();
  s.train = self_exe_dir() / "delayprop-train";
  if (auto* n = root.get("train")) s.train = r.path(*n, "train");
  if (over.train) s.train = fs::absolute(*over.train);
  s.cli_sets = over.sets;
  for (const auto& item : s.cli_sets)
    if (item.find('=') == std::string::npos) throw UsageError("--set '" + item + "': expected key=value");
  if (auto* n = root.get("mpirun")) s.mpirun = r.string(*n, "mpirun");
  if (over.mpirun) s.mpirun = *over.mpirun;
  require(!split_words(s.mpirun).empty(), source, ": mpirun must name a command");
  if (auto* n = root.get("slurm")) {
    require(n->is_table(), source, ": [slurm] must be a table");
    s.slurm = r.slurm(*n->as_table());
  }

  Group top = r.group(root, "", true);
  s.common = top.setting;
  if (auto* n = root.get("group")) {
    require(n->is_array_of_tables(), source, ": group must be [[group]] tables");
    require(top.grid.empty() && top.list.empty(), source, ": with [[group]]s, put grid and list inside the groups");
    const auto& arr = *n->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      Group g = r.group(*arr.get(i)->as_table(), "group." + std::to_string(i), false);
      if (g.label.empty()) g.label = "g" + std::to_string(i);
      s.groups.push_back(std::move(g));
    }
  } else {
    top.setting = Setting{};  // already in common
    s.groups.push_back(std::move(top));
  }
  return s;
}

Sweep load_sweep(const fs::path& file, const SweepOverrides& over) { return parse_sweep(read_text(file), file, over); }

std::vector<Run> expand(const Sweep& s) {
  std::vector<Run> runs;
  std::map<std::string, size_t> seen;
  const bool labelled_groups = s.groups.size() > 1;
  for (const auto& g : s.groups) {
    std::vector<Level> list = g.list;
    const bool has_list = !list.empty();
    if (!has_list) list.push_back(Level{});
    for (size_t li = 0; li < list.size(); ++li) {
      // Odometer over the grid axes, the last axis fastest.
      std::vector<size_t> at(g.grid.size(), 0);
      for (bool more = true; more;) {
        Setting set = s.common;
        set.merge(g.setting);
        set.merge(list[li].setting);
        std::vector<std::string> parts;
        std::vector<std::pair<std::string, std::string>> cols;
        if (labelled_groups) {
          parts.push_back(g.label);
          cols.emplace_back("group", g.label);
        }
        if (has_list) {
          std::string label = list[li].label;
          if (label.empty()) {
            for (const auto& item : list[li].setting.sets) label += (label.empty() ? "" : "_") + short_key(item);
            if (list[li].setting.base) label += (label.empty() ? "" : "_") + fs::path(*list[li].setting.base).stem().string();
            if (label.empty()) label = "v" + std::to_string(li);
          }
          parts.push_back(label);
          cols.emplace_back("variant", label);
        }
        for (size_t a = 0; a < g.grid.size(); ++a) {
          const Level& l = g.grid[a].levels[at[a]];
          set.merge(l.setting);
          parts.push_back(g.grid[a].prefix + "-" + l.label);
          cols.emplace_back(g.grid[a].column, l.label);
        }
        require(set.base.has_value(), s.file.string(), ": no base config (set base = \"configs/X.toml\")",
                labelled_groups ? " in group " + g.label : "");
        std::string point;
        for (const auto& p : parts) point += (point.empty() ? "" : "_") + p;
        point = sanitize(point.empty() ? "run" : point);
        if (point.size() > 96) point = point.substr(0, 87) + "-" + hash8(point);  // usable; still distinct
        const std::vector<int64_t> seeds = set.seeds ? *set.seeds : std::vector<int64_t>{1};
        for (int64_t seed : seeds) {
          Run r;
          r.index = runs.size();
          r.point = point;
          r.name = point + "_s" + std::to_string(seed);
          r.columns = cols;
          r.dir = s.out_dir / r.name;
          r.base = *set.base;
          r.sets = set.sets;
          r.sets.insert(r.sets.end(), s.cli_sets.begin(), s.cli_sets.end());
          r.seed = seed;
          r.ranks = set.ranks.value_or(1);
          r.threads = set.threads;
          auto [it, fresh] = seen.emplace(r.name, r.index);
          require(fresh, s.file.string(), ": runs ", it->second, " and ", r.index, " would share the directory ", r.name,
                  " (give [[list]] entries distinct labels)");
          runs.push_back(std::move(r));
        }
        // advance the odometer
        more = false;
        for (size_t a = g.grid.size(); a-- > 0;) {
          if (++at[a] < g.grid[a].levels.size()) {
            more = true;
            break;
          }
          at[a] = 0;
        }
      }
    }
  }
  return runs;
}

std::vector<std::string> train_command(const Sweep& s, const Run& r, const std::string& launcher) {
  std::vector<std::string> cmd;
  if (r.ranks > 1) {
    if (launcher == "srun") {
      // PMIx for the MPI library, the task's CPUs per rank, ranks bound to their cores.
      cmd = {"srun", "-n", std::to_string(r.ranks), "--mpi=pmix", "-c", std::to_string(s.slurm.cpus_per_task),
             "--cpu-bind=cores"};
    } else {
      cmd = split_words(s.mpirun);
      cmd.insert(cmd.end(), {"-np", std::to_string(r.ranks)});
    }
  }
  cmd.insert(cmd.end(), {s.train.string(), "--config", r.base.string()});
  for (const auto& item : r.sets) cmd.insert(cmd.end(), {"--set", item});
  cmd.insert(cmd.end(), {"--seed", std::to_string(r.seed), "--out", r.dir.string()});
  if (r.threads) cmd.insert(cmd.end(), {"--threads", std::to_string(*r.threads)});
  return cmd;
}

RunState run_state(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "summary.json", ec)) {
    try {
      json j = json::parse(read_text(dir / "summary.json"));
      if (j.value("status", "") == "done") return RunState::Done;
    } catch (const std::exception&) {
      // unreadable summary: run it again
    }
  }
  return fs::exists(dir / "checkpoint.h5", ec) ? RunState::Resume : RunState::Todo;
}

const char* state_name(RunState s) { return s == RunState::Done ? "done" : s == RunState::Resume ? "resume" : "todo"; }

json manifest_json(const Sweep& s, const std::vector<Run>& runs) {
  json m;
  m["sweep"] = s.name;
  m["sweep_file"] = s.file.string();
  m["out_dir"] = s.out_dir.string();
  m["train"] = s.train.string();
  m["runs"] = json::array();
  for (const auto& r : runs) {
    json j;
    j["index"] = r.index;
    j["name"] = r.name;
    j["point"] = r.point;
    j["dir"] = r.dir.string();
    j["config"] = r.base.string();
    j["overrides"] = r.sets;
    j["seed"] = r.seed;
    j["ranks"] = r.ranks;
    json cols = json::array();
    for (const auto& [c, v] : r.columns) cols.push_back({c, v});
    j["columns"] = cols;
    j["command"] = r.command;
    m["runs"].push_back(j);
  }
  return m;
}

namespace {

// Every run's config must load (keys exist, values check out) before anything is launched:
// a typo in a sweep file fails here, not in 192 queued jobs.
void check_configs(const std::vector<Run>& runs) {
  std::set<std::pair<std::string, std::vector<std::string>>> seen;
  for (const auto& r : runs) {
    if (!seen.emplace(r.base.string(), r.sets).second) continue;
    try {
      load_config(r.base.string(), r.sets);
    } catch (const Error& e) {
      fail("run ", r.name, ": ", e.what());
    }
  }
}

// Every distinct config (base + overrides) is checked by the trainer itself
// (`delayprop-train --check`: config and data load), so that a wrong data path fails here.
void check_with_trainer(const Sweep& s, const std::vector<Run>& runs) {
  std::set<std::pair<std::string, std::vector<std::string>>> seen;
  fs::create_directories(s.out_dir);
  const fs::path log = s.out_dir / "check.log";
  for (const auto& r : runs) {
    if (!seen.emplace(r.base.string(), r.sets).second) continue;
    std::vector<std::string> cmd = {s.train.string(), "--check", "--config", r.base.string()};
    for (const auto& item : r.sets) cmd.insert(cmd.end(), {"--set", item});
    cmd.insert(cmd.end(), {"--out", r.dir.string(), "--resume"});  // the directory is the sweep's business
    const auto [code, text] = run_captured(cmd, log);
    if (code != 0) fail("run ", r.name, ": the trainer's check failed (exit ", code, "): ", text);
  }
  std::error_code ec;
  fs::remove(log, ec);
}

// Copies each base config into OUT_DIR/slurm/configs (named by content) and points the runs
// at the copies: queued tasks do not see later edits of the base files.
void copy_base_configs(const Sweep& s, std::vector<Run>& runs) {
  const fs::path dir = fs::absolute(s.out_dir / "slurm" / "configs");
  fs::create_directories(dir);
  for (auto& r : runs) {
    const std::string text = read_text(r.base);
    const fs::path copy = dir / (r.base.stem().string() + "-" + hash8(text) + ".toml");
    if (!fs::exists(copy)) write_text(copy, text);
    r.base = copy;
  }
}

}  // namespace

std::vector<Run> prepare(const Sweep& s, const std::string& launcher, bool copy_configs) {
  std::vector<Run> runs = expand(s);
  check_configs(runs);
  check_with_trainer(s, runs);
  if (copy_configs) copy_base_configs(s, runs);
  for (auto& r : runs) r.command = train_command(s, r, launcher);
  write_manifest(s, runs);
  return runs;
}

namespace {
// Whether a directory holds files of a run (delayprop-train's run_files()).
bool has_run_files(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {"config.toml", "metrics.jsonl", "checkpoint.h5", "checkpoint.prev.h5", "summary.json", "model.h5"})
    if (fs::exists(dir / f, ec)) return true;
  return false;
}

}  // namespace

std::vector<std::string> launch_command(const Run& r, RunState st) {
  std::vector<std::string> cmd = r.command;
  if (st == RunState::Resume) cmd.push_back("--resume");
  else if (has_run_files(r.dir)) cmd.push_back("--overwrite");
  return cmd;
}

}  // namespace delayprop::sweep
