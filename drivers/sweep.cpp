// delayprop-sweep: hyper-parameter sweeps of delayprop-train, here or on SLURM.
//
//   delayprop-sweep plan SWEEP.toml                 list the runs, write OUT_DIR/manifest.json
//   delayprop-sweep local SWEEP.toml -j K           run them here, K at a time
//   delayprop-sweep slurm SWEEP.toml [--submit]     write an sbatch array script (and submit it)
//   delayprop-sweep run MANIFEST.json --index I     run one run (what each array task does)
//   delayprop-sweep aggregate OUT_DIR               CSV + Markdown table (+ figures)
//
// A run is one (override set, seed); its directory name is derived from its overrides and
// seed only, so relaunching a sweep finds its earlier runs: a run whose summary.json says
// "done" is skipped, one with a checkpoint but no summary is resumed with --resume. The sweep
// file format is described in docs/SWEEPS.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include "cli.hpp"
#include "io/config.hpp"
#include "core/error.hpp"

using namespace delayprop;
namespace fs = std::filesystem;
using json = nlohmann::json;

static const char* kUsage =
    "usage: delayprop-sweep plan SWEEP.toml [COMMON]\n"
    "       delayprop-sweep local SWEEP.toml [-j K] [COMMON]\n"
    "       delayprop-sweep slurm SWEEP.toml [--submit | --resubmit] [--partition P] [--time T] [--cpus-per-task N]\n"
    "                             [--mem M] [--account A] [--max-parallel N] [--sbatch-arg ARG]...\n"
    "                             [--launcher mpirun|srun] [--template FILE] [COMMON]\n"
    "       delayprop-sweep run MANIFEST.json --index I\n"
    "       delayprop-sweep aggregate OUT_DIR [--no-plot] [--plot-script FILE] [--python PY]\n"
    "COMMON: [--set key=value]... (every run, last) [--out-dir D] [--train PATH] [--mpirun CMD]\n"
    "Sweep files: docs/SWEEPS.md.\n";

namespace {

// ---- small helpers -------------------------------------------------------------------------

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  require(f.good(), p.string(), ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Writes via a temporary file and rename, so a reader never sees half a file.
void write_text(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp);
    require(f.good(), tmp.string(), ": cannot write");
    f << text;
    require(f.good(), tmp.string(), ": write failed");
  }
  fs::rename(tmp, p);
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> out;
  for (std::string w; is >> w;) out.push_back(w);
  return out;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += shell_quote(a);
  }
  return s;
}

// Directory names: letters, digits, '.', '-', '_' only.
std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '-';
  return out;
}

uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

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

// "network.population.1.size" -> "pop1.size": short, still readable in directory names.
std::string short_key(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  if (parts.size() > 1 && parts[0] == "network") parts.erase(parts.begin());
  std::string out;
  for (const auto& p : parts) {
    const bool digits = !p.empty() && std::all_of(p.begin(), p.end(), ::isdigit);
    if (p == "population") out += (out.empty() ? "" : ".") + std::string("pop");
    else if (p == "connection") out += (out.empty() ? "" : ".") + std::string("conn");
    else if (digits) out += p;  // glued to pop/conn
    else out += (out.empty() ? "" : ".") + p;
  }
  return out;
}

fs::path self_exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : p.parent_path();
}

// Shipped files (slurm templates, plot script): next to the build tree, in the source tree
// this binary was built from, or under the current directory.
fs::path find_shipped(const std::string& rel) {
  std::vector<fs::path> roots;
  if (const char* home = std::getenv("DELAYPROP_HOME")) roots.emplace_back(home);
  roots.push_back(self_exe_dir().parent_path());
  roots.push_back(self_exe_dir().parent_path() / "share" / "delayprop");  // installed
  roots.push_back(fs::path(__FILE__).parent_path().parent_path());
  roots.push_back(fs::current_path());
  for (const auto& r : roots)
    if (fs::exists(r / rel)) return fs::absolute(r / rel);
  std::string tried;
  for (const auto& r : roots) {
    tried += ' ';
    tried += (r / rel).string();
  }
  fail("cannot find ", rel, " (tried:", tried, "); set DELAYPROP_HOME to the delayprop source directory");
}

// ---- the sweep file --------------------------------------------------------------------------

// One override set: --set items plus the few keys that are not config keys.
struct Setting {
  std::vector<std::string> sets;  // "key=value"
  std::optional<std::string> base;
  std::optional<int> ranks, threads;
  std::optional<std::vector<int64_t>> seeds;
  void merge(const Setting& o) {
    sets.insert(sets.end(), o.sets.begin(), o.sets.end());
    if (o.base) base = o.base;
    if (o.ranks) ranks = o.ranks;
    if (o.threads) threads = o.threads;
    if (o.seeds) seeds = o.seeds;
  }
};

struct Level {
  std::string label;  // as shown in tables and names
  Setting setting;
};

struct Axis {
  std::string column;  // table column
  std::string prefix;  // in run names: "<prefix>-<label>"
  std::vector<Level> levels;
};

struct Group {
  std::string label;  // empty: the sweep has no [[group]]s
  Setting setting;
  std::vector<Level> list;  // [[list]] entries (empty: one implicit entry)
  std::vector<Axis> grid;
};

struct SlurmSpec {
  std::string partition, time, mem, account;
  int cpus_per_task = 1;
  int max_parallel = 0;
  std::vector<std::string> extra;  // further #SBATCH lines
  std::vector<std::string> setup;  // shell lines run before the task (module load ...)
  std::string launcher = "mpirun";  // multi-rank runs: mpirun | srun
};

struct Sweep {
  std::string name;
  fs::path file, out_dir, train;
  std::string mpirun = "mpirun";
  Setting common;
  std::vector<std::string> cli_sets;  // --set on the command line: applied last, to every run
  std::vector<Group> groups;
  SlurmSpec slurm;
};

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

Sweep load_sweep(const fs::path& file, const Args& args) {
  const std::string source = file.string();
  toml::table root;
  try {
    root = toml::parse(read_text(file), source);
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
  if (args.has("out-dir")) s.out_dir = fs::absolute(args.get("out-dir"));
  s.out_dir = s.out_dir.lexically_normal();
  s.train = self_exe_dir() / "delayprop-train";
  if (auto* n = root.get("train")) s.train = r.path(*n, "train");
  if (args.has("train")) s.train = fs::absolute(args.get("train"));
  s.cli_sets = args.all("set");
  for (const auto& item : s.cli_sets)
    if (item.find('=') == std::string::npos) throw UsageError("--set '" + item + "': expected key=value");
  if (auto* n = root.get("mpirun")) s.mpirun = r.string(*n, "mpirun");
  if (args.has("mpirun")) s.mpirun = args.get("mpirun");
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

// ---- runs ------------------------------------------------------------------------------------

struct Run {
  size_t index = 0;
  std::string name, point;  // point: the name without the seed (one grid point)
  std::vector<std::pair<std::string, std::string>> columns;  // (column, level) for tables
  fs::path dir, base;
  std::vector<std::string> sets;
  int64_t seed = 1;
  int ranks = 1;
  std::optional<int> threads;
  std::vector<std::string> command;  // without --resume
};

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
        if (point.size() > 96) {  // keep names usable; the hash keeps them distinct
          std::ostringstream h;
          h << std::hex << std::setw(8) << std::setfill('0') << fnv1a(point);
          point = point.substr(0, 87) + "-" + h.str();
        }
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

// The command of a run; `ranks` > 1 goes through the launcher (mpirun -np R, or srun -n R).
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

enum class RunState { Todo, Resume, Done };

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

void write_manifest(const Sweep& s, const std::vector<Run>& runs) {
  fs::create_directories(s.out_dir);
  write_text(s.out_dir / "manifest.json", manifest_json(s, runs).dump(2) + "\n");
}

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

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log);
int exit_code(int status);

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
    std::error_code ec;
    fs::remove(log, ec);
    const pid_t pid = spawn(cmd, log);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (exit_code(status) != 0) {
      std::string text = fs::exists(log) ? read_text(log) : "";
      while (!text.empty() && text.back() == '\n') text.pop_back();
      fail("run ", r.name, ": the trainer's check failed (exit ", exit_code(status), "): ", text);
    }
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
    std::ostringstream name;
    name << r.base.stem().string() << "-" << std::hex << std::setw(8) << std::setfill('0') << fnv1a(text) << ".toml";
    const fs::path copy = dir / name.str();
    if (!fs::exists(copy)) write_text(copy, text);
    r.base = copy;
  }
}

std::vector<Run> prepare(const Sweep& s, const std::string& launcher, bool copy_configs = false) {
  std::vector<Run> runs = expand(s);
  check_configs(runs);
  check_with_trainer(s, runs);
  if (copy_configs) copy_base_configs(s, runs);
  for (auto& r : runs) r.command = train_command(s, r, launcher);
  write_manifest(s, runs);
  return runs;
}

// ---- processes -------------------------------------------------------------------------------

// Starts argv; stdout and stderr go to `log` (appended) unless it is empty.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::cout.flush();  // else the child's output overtakes ours, and the child inherits the buffer
  std::cerr.flush();
  const pid_t pid = fork();
  require(pid >= 0, "fork failed");
  if (pid == 0) {
    if (!log.empty()) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
    }
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "delayprop-sweep: cannot run %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Exit status of delayprop-train after a checkpoint on request (SIGTERM/SIGUSR1): resume later.
constexpr int kExitPreempted = 75;

// Whether a directory holds files of a run (delayprop-train's run_files()).
bool has_run_files(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {"config.toml", "metrics.jsonl", "checkpoint.h5", "checkpoint.prev.h5", "summary.json", "model.h5"})
    if (fs::exists(dir / f, ec)) return true;
  return false;
}

// The command that starts a run: its manifest command, plus --resume when a checkpoint
// waits, or --overwrite for a run killed before its first checkpoint (nothing to keep).
std::vector<std::string> launch_command(const Run& r, RunState st) {
  std::vector<std::string> cmd = r.command;
  if (st == RunState::Resume) cmd.push_back("--resume");
  else if (has_run_files(r.dir)) cmd.push_back("--overwrite");
  return cmd;
}

// ---- subcommands -----------------------------------------------------------------------------

int cmd_plan(const Sweep& s) {
  std::vector<Run> runs = prepare(s, "mpirun");
  size_t done = 0, resume = 0;
  std::cout << "sweep " << s.name << ": " << runs.size() << " runs in " << s.out_dir.string() << "\n";
  for (const auto& r : runs) {
    const RunState st = run_state(r.dir);
    done += st == RunState::Done;
    resume += st == RunState::Resume;
    std::cout << std::setw(4) << r.index << "  " << std::setw(6) << std::left << state_name(st) << std::right << "  "
              << r.name;
    if (r.ranks > 1) std::cout << "  [" << r.ranks << " ranks]";
    std::cout << "\n      " << fs::path(r.base).filename().string();
    for (const auto& item : r.sets) std::cout << " " << item;
    std::cout << "\n";
  }
  std::cout << done << " done, " << resume << " to resume, " << runs.size() - done - resume << " to start; manifest "
            << (s.out_dir / "manifest.json").string() << "\n";
  return 0;
}

int cmd_local(const Sweep& s, int jobs) {
  require(jobs >= 1, "-j must be >= 1");
  std::vector<Run> runs = prepare(s, "mpirun");
  std::vector<size_t> todo;
  size_t skipped = 0;
  for (const auto& r : runs) {
    if (run_state(r.dir) == RunState::Done) ++skipped;
    else todo.push_back(r.index);
  }
  std::cout << "sweep " << s.name << ": " << runs.size() << " runs, " << skipped << " already done, " << todo.size()
            << " to run, " << jobs << " at a time\n"
            << std::flush;
  using clock = std::chrono::steady_clock;
  std::map<pid_t, std::pair<size_t, clock::time_point>> active;
  size_t next = 0, finished = 0;
  std::vector<std::string> failed;
  while (next < todo.size() || !active.empty()) {
    while (next < todo.size() && active.size() < size_t(jobs)) {
      const Run& r = runs[todo[next++]];
      fs::create_directories(r.dir);
      const RunState st = run_state(r.dir);
      const pid_t pid = spawn(launch_command(r, st), r.dir / "train.log");
      active[pid] = {r.index, clock::now()};
      std::cout << "start  " << r.name << (st == RunState::Resume ? " (resume)" : "") << "\n" << std::flush;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      fail("waitpid failed: ", std::strerror(errno));
    }
    auto it = active.find(pid);
    if (it == active.end()) continue;
    const Run& r = runs[it->second.first];
    const double secs = std::chrono::duration<double>(clock::now() - it->second.second).count();
    active.erase(it);
    ++finished;
    const int code = exit_code(status);
    const bool ok = code == 0 && run_state(r.dir) == RunState::Done;
    if (!ok) failed.push_back(r.name);
    std::cout << (ok ? "done   " : code == kExitPreempted ? "STOPPED " : "FAILED ") << r.name << "  (" << std::fixed << std::setprecision(1) << secs
              << " s; " << finished << "/" << todo.size() << ")";
    if (!ok) std::cout << "  exit " << code << ", log " << (r.dir / "train.log").string();
    std::cout << "\n" << std::flush;
  }
  std::cout << "sweep " << s.name << ": " << todo.size() - failed.size() << " finished, " << skipped << " skipped, "
            << failed.size() << " failed\n";
  std::cout << "next: delayprop-sweep aggregate " << shell_quote(s.out_dir.string()) << "\n";
  return failed.empty() ? 0 : 1;
}

// "0-2,5,7-9"
std::string index_ranges(const std::vector<size_t>& idx) {
  std::string out;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && idx[j + 1] == idx[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(idx[i]);
    if (j > i) {
      out += '-';
      out += std::to_string(idx[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

int cmd_slurm(Sweep s, const Args& args) {
  SlurmSpec& sl = s.slurm;
  if (args.has("partition")) sl.partition = args.get("partition");
  if (args.has("time")) sl.time = args.get("time");
  if (args.has("mem")) sl.mem = args.get("mem");
  if (args.has("account")) sl.account = args.get("account");
  if (args.has("cpus-per-task")) sl.cpus_per_task = int(args.get_int("cpus-per-task", 1));
  if (args.has("max-parallel")) sl.max_parallel = int(args.get_int("max-parallel", 0));
  if (args.has("launcher")) sl.launcher = args.get("launcher");
  require(sl.cpus_per_task >= 1, "--cpus-per-task must be >= 1");
  require(sl.launcher == "mpirun" || sl.launcher == "srun", "--launcher must be mpirun or srun");
  for (const auto& a : args.all("sbatch-arg")) sl.extra.push_back(a);

  // Threads per rank default to the CPUs each task gets.
  if (!s.common.threads) s.common.threads = sl.cpus_per_task;
  std::vector<Run> runs = prepare(s, sl.launcher, true);
  // The tasks read their own copy, named by its content: a later `plan` or `local` (which
  // rewrite manifest.json) or an edited sweep file cannot change what queued tasks run.
  const std::string text = manifest_json(s, runs).dump(2) + "\n";
  std::ostringstream hash;
  hash << std::hex << std::setw(8) << std::setfill('0') << fnv1a(text);
  fs::create_directories(s.out_dir / "slurm");
  const fs::path manifest = s.out_dir / "slurm" / ("manifest-" + hash.str() + ".json");
  write_text(manifest, text);

  std::ostringstream sb;
  sb << "#SBATCH --job-name=" << s.name << "\n";
  sb << "#SBATCH --output=" << (s.out_dir / "slurm" / "%A_%a.out").string() << "\n";
  sb << "#SBATCH --ntasks=1\n";
  sb << "#SBATCH --cpus-per-task=" << sl.cpus_per_task << "\n";
  // Relative paths (configs, data, runs) mean what they meant here.
  sb << "#SBATCH --chdir=" << fs::current_path().string() << "\n";
  // 120 s before the time limit the batch shell (delayprop-sweep run) gets SIGUSR1 and passes
  // it on: the run checkpoints and exits 75. Requeued after preemption or a node failure.
  sb << "#SBATCH --signal=B:USR1@120\n";
  sb << "#SBATCH --requeue\n";
  if (!sl.partition.empty()) sb << "#SBATCH --partition=" << sl.partition << "\n";
  if (!sl.time.empty()) sb << "#SBATCH --time=" << sl.time << "\n";
  if (!sl.mem.empty()) sb << "#SBATCH --mem=" << sl.mem << "\n";
  if (!sl.account.empty()) sb << "#SBATCH --account=" << sl.account << "\n";
  for (const auto& e : sl.extra) sb << (e.rfind("#SBATCH", 0) == 0 ? e : "#SBATCH " + e) << "\n";
  std::string setup;
  for (const auto& l : sl.setup) setup += l + "\n";

  const fs::path tmpl_path = args.has("template") ? fs::path(args.get("template")) : find_shipped("slurm/sweep_array.sbatch");
  std::string script = read_text(tmpl_path);
  script = replace_all(script, "@SBATCH@", sb.str());
  script = replace_all(script, "@SETUP@", setup);
  script = replace_all(script, "@SWEEP_BIN@", shell_quote((self_exe_dir() / "delayprop-sweep").string()));
  script = replace_all(script, "@MANIFEST@", shell_quote(manifest.string()));
  script = replace_all(script, "@SWEEP_NAME@", s.name);
  const fs::path script_path = s.out_dir / "sweep.sbatch";
  write_text(script_path, script);

  // --resubmit: the tasks of this sweep still queued or running (squeue) are left alone, so
  // only failed, stopped (exit 75) or lost runs are queued again.
  std::set<size_t> active;
  const bool resubmit = args.has("resubmit");
  if (resubmit) {
    const fs::path out = s.out_dir / "slurm" / "squeue.log";
    std::error_code ec;
    fs::remove(out, ec);
    const pid_t pid = spawn({"squeue", "-h", "-r", "--name=" + s.name, "-o", "%K"}, out);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string text = fs::exists(out) ? read_text(out) : "";
    require(exit_code(status) == 0, "squeue failed (exit ", exit_code(status), "): ", text);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) active.insert(std::stoul(line));
  }
  // One array job per rank count: all tasks of an array share one resource request.
  std::map<int, std::vector<size_t>> by_ranks;
  size_t done = 0;
  for (const auto& r : runs) {
    if (run_state(r.dir) == RunState::Done) ++done;
    else if (!active.count(r.index)) by_ranks[r.ranks].push_back(r.index);
  }
  if (resubmit)
    std::cout << "resubmit: " << active.size() << " task(s) of " << s.name << " still queued or running, left alone\n";
  std::vector<std::vector<std::string>> submits;
  for (const auto& [ranks, idx] : by_ranks) {
    std::string array = "--array=" + index_ranges(idx);
    if (sl.max_parallel > 0) array += "%" + std::to_string(sl.max_parallel);
    std::vector<std::string> cmd = {"sbatch", "--parsable", array};
    if (ranks > 1) cmd.push_back("--ntasks=" + std::to_string(ranks));
    cmd.push_back(script_path.string());
    submits.push_back(cmd);
  }
  std::string submit_sh = "#!/bin/sh\n# Submits the runs of sweep " + s.name + " that are not done yet.\nset -e\n";
  for (const auto& c : submits) submit_sh += join_command(c) + "\n";
  write_text(s.out_dir / "submit.sh", submit_sh);
  fs::permissions(s.out_dir / "submit.sh", fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);

  std::cout << "sweep " << s.name << ": " << runs.size() << " runs, " << done << " already done\n";
  std::cout << "wrote " << script_path.string() << " and " << (s.out_dir / "submit.sh").string() << "\n";
  if (submits.empty()) {
    std::cout << "nothing to submit\n";
    return 0;
  }
  if (!args.has("submit") && !resubmit) {
    for (const auto& c : submits) std::cout << "  " << join_command(c) << "\n";
    std::cout << "(add --submit to submit)\n";
    return 0;
  }
  for (const auto& c : submits) {
    // Run sbatch with its output captured in a file: its stdout is the job id (--parsable).
    const fs::path out = s.out_dir / "slurm" / "sbatch.log";
    std::error_code ec;
    fs::remove(out, ec);
    const pid_t pid = spawn(c, out);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string text = fs::exists(out) ? read_text(out) : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    require(exit_code(status) == 0, "sbatch failed (exit ", exit_code(status), "): ", text, "\n  command: ", join_command(c));
    const std::string job = text.substr(0, text.find(';'));  // "id;cluster" on federations
    std::cout << "submitted job " << job << "  (" << c[2] << ")\n";
  }
  return 0;
}

volatile sig_atomic_t g_child = 0;
extern "C" void forward_signal(int sig) {
  (void)sig;  // as SIGUSR1: a launcher (mpirun, srun) passes that on to every rank
  if (g_child > 0) ::kill(pid_t(g_child), SIGUSR1);
}

int cmd_run(const fs::path& manifest, long long index) {
  json m = json::parse(read_text(manifest));
  const auto& runs = m.at("runs");
  require(index >= 0 && size_t(index) < runs.size(), manifest.string(), ": no run with index ", index, " (", runs.size(),
          " runs)");
  const json& j = runs[size_t(index)];
  Run r;
  r.name = j.at("name").get<std::string>();
  r.dir = j.at("dir").get<std::string>();
  r.command = j.at("command").get<std::vector<std::string>>();
  const RunState st = run_state(r.dir);
  if (st == RunState::Done) {
    std::cout << "run " << index << " " << r.name << ": already done, skipped\n";
    return 0;
  }
  fs::create_directories(r.dir);
  const auto cmd = launch_command(r, st);
  std::cout << "run " << index << " " << r.name << (st == RunState::Resume ? " (resume)" : "") << "\n  "
            << join_command(cmd) << "\n"
            << std::flush;
  const pid_t pid = spawn(cmd, {});
  // SLURM signals this process (the batch shell exec'd it; --signal=B:USR1@T, scancel
  // --signal, the time limit's SIGTERM): pass it on to the run, which checkpoints and exits 75.
  g_child = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) sigaction(sig, &sa, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = exit_code(status);
  std::cout << "run " << index << " " << r.name << ": exit " << code
            << (code == kExitPreempted ? " (stopped with a checkpoint; submit again to resume)" : "") << "\n";
  return code;
}

// ---- aggregate -------------------------------------------------------------------------------

struct Stat {
  size_t n = 0;
  double mean = 0, sd = 0;
};

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / double(v.size() - 1));
  }
  return s;
}

// Mean (and SD) with as many decimals as the size of the mean calls for.
std::string fmt(const Stat& st) {
  const double a = std::fabs(st.mean);
  const int prec = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 4;
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << st.mean;
  if (st.n > 1) os << " ± " << st.sd;
  return os.str();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return "\"" + replace_all(s, "\"", "\"\"") + "\"";
}

int cmd_aggregate(const fs::path& dir, const Args& args) {
  const fs::path manifest = dir / "manifest.json";
  require(fs::exists(manifest), manifest.string(), ": not found (aggregate takes a sweep's out_dir)");
  json m = json::parse(read_text(manifest));
  const std::string sweep = m.value("sweep", dir.filename().string());

  // Columns that describe a run, in the order they first appear.
  std::vector<std::string> axis_cols;
  for (const auto& r : m.at("runs"))
    for (const auto& c : r.at("columns")) {
      const std::string name = c.at(0).get<std::string>();
      if (std::find(axis_cols.begin(), axis_cols.end(), name) == axis_cols.end()) axis_cols.push_back(name);
    }
  // Metrics: the summary keys delayprop-train writes, then any other numeric key found.
  std::vector<std::string> metrics = {"test_accuracy", "valid_accuracy", "train_accuracy", "loss",
                                      "presentations_to_100", "best_epoch", "epochs", "wall_time_s",
                                      "samples_per_s", "peak_memory_mb"};

  struct Row {
    std::string name, point, status;
    int64_t seed = 0;
    int ranks = 1;
    std::map<std::string, std::string> cols;
    std::map<std::string, double> values;
  };
  std::vector<Row> rows;
  for (const auto& r : m.at("runs")) {
    Row row;
    row.name = r.at("name").get<std::string>();
    row.point = r.at("point").get<std::string>();
    row.seed = r.at("seed").get<int64_t>();
    row.ranks = r.value("ranks", 1);
    for (const auto& c : r.at("columns")) row.cols[c.at(0).get<std::string>()] = c.at(1).get<std::string>();
    const fs::path rdir = r.at("dir").get<std::string>();
    const fs::path summary = rdir / "summary.json";
    if (fs::exists(summary)) {
      try {
        json sj = json::parse(read_text(summary));
        row.status = sj.value("status", "unknown");
        for (const auto& [k, v] : sj.items()) {
          if (!v.is_number() && !v.is_boolean()) continue;
          if (k == "seed" || k == "ranks" || k == "run" || k == "point" || k == "sweep" ||
              std::find(axis_cols.begin(), axis_cols.end(), k) != axis_cols.end())
            continue;  // would clash with the run's own columns
          row.values[k] = v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
          if (std::find(metrics.begin(), metrics.end(), k) == metrics.end()) metrics.push_back(k);
        }
      } catch (const std::exception& e) {
        row.status = "unreadable";
      }
    } else {
      row.status = fs::exists(rdir / "checkpoint.h5") ? "incomplete" : "missing";
    }
    rows.push_back(std::move(row));
  }
  // Keep only metrics some run has.
  std::vector<std::string> present;
  for (const auto& k : metrics)
    if (std::any_of(rows.begin(), rows.end(), [&](const Row& r) { return r.values.count(k) > 0; })) present.push_back(k);

  // results.csv: one row per run.
  std::ostringstream csv;
  csv << "sweep,run,point";
  for (const auto& c : axis_cols) csv << "," << csv_field(c);
  csv << ",seed,ranks,status";
  for (const auto& k : present) csv << "," << k;
  csv << "\n";
  for (const auto& r : rows) {
    csv << csv_field(sweep) << "," << csv_field(r.name) << "," << csv_field(r.point);
    for (const auto& c : axis_cols) csv << "," << csv_field(r.cols.count(c) ? r.cols.at(c) : "");
    csv << "," << r.seed << "," << r.ranks << "," << r.status;
    for (const auto& k : present) {
      csv << ",";
      if (r.values.count(k)) csv << std::setprecision(10) << r.values.at(k);
    }
    csv << "\n";
  }
  write_text(dir / "results.csv", csv.str());

  // Per grid point: mean and SD over the seeds of the runs that are done.
  std::vector<std::string> points;
  std::map<std::string, std::vector<const Row*>> by_point;
  for (const auto& r : rows) {
    if (!by_point.count(r.point)) points.push_back(r.point);
    by_point[r.point].push_back(&r);
  }
  std::ostringstream pcsv, md;
  pcsv << "point";
  for (const auto& c : axis_cols) pcsv << "," << csv_field(c);
  pcsv << ",n,runs";
  for (const auto& k : present) pcsv << "," << k << "_mean," << k << "_sd";
  pcsv << "\n";

  // The Markdown table shows the headline metrics; the CSVs have all of them.
  std::vector<std::string> shown;
  for (const auto& k : {"test_accuracy", "valid_accuracy", "train_accuracy", "presentations_to_100", "epochs",
                        "wall_time_s"})
    if (std::find(present.begin(), present.end(), k) != present.end()) shown.push_back(k);
  // Accuracies (fractions in the summaries) are shown in percent, as in the paper.
  std::map<std::string, double> scale;
  for (const auto& k : shown) {
    bool fraction = k.size() > 9 && k.compare(k.size() - 9, 9, "_accuracy") == 0;
    for (const auto& r : rows)
      if (r.values.count(k) && (r.values.at(k) < 0 || r.values.at(k) > 1)) fraction = false;
    scale[k] = fraction ? 100.0 : 1.0;
  }
  size_t n_done = 0;
  for (const auto& r : rows) n_done += r.status == "done";
  md << "# Sweep " << sweep << "\n\n"
     << n_done << " of " << rows.size() << " runs done. Mean ± SD over seeds (sample SD); n = runs done.\n\n|";
  for (const auto& c : axis_cols) md << " " << c << " |";
  md << " n |";
  for (const auto& k : shown) md << " " << k << (scale[k] == 100.0 ? " (%)" : "") << " |";
  md << "\n|";
  for (size_t i = 0; i < axis_cols.size() + 1 + shown.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& p : points) {
    const auto& rs = by_point[p];
    std::map<std::string, Stat> st;
    size_t n = 0;
    for (const Row* r : rs) n += r->status == "done";
    for (const auto& k : present) {
      std::vector<double> v;
      for (const Row* r : rs)
        if (r->status == "done" && r->values.count(k)) v.push_back(r->values.at(k));
      st[k] = stat_of(v);
    }
    pcsv << csv_field(p);
    md << "|";
    for (const auto& c : axis_cols) {
      const std::string v = rs.front()->cols.count(c) ? rs.front()->cols.at(c) : "";
      pcsv << "," << csv_field(v);
      md << " " << v << " |";
    }
    pcsv << "," << n << "," << rs.size();
    md << " " << n << (n < rs.size() ? "/" + std::to_string(rs.size()) : "") << " |";
    for (const auto& k : present) {
      pcsv << ",";
      if (st[k].n) pcsv << std::setprecision(10) << st[k].mean << "," << st[k].sd;
      else pcsv << ",";
    }
    pcsv << "\n";
    for (const auto& k : shown) {
      Stat shown_st = st[k];
      shown_st.mean *= scale[k];
      shown_st.sd *= scale[k];
      md << " " << (shown_st.n ? fmt(shown_st) : "—") << " |";
    }
    md << "\n";
  }
  std::vector<std::string> not_done;
  for (const auto& r : rows)
    if (r.status != "done") not_done.push_back(r.name + " (" + r.status + ")");
  if (!not_done.empty()) {
    md << "\nNot done:";
    for (const auto& s : not_done) md << " " << s << ";";
    md << "\n";
  }
  write_text(dir / "points.csv", pcsv.str());
  write_text(dir / "results.md", md.str());
  std::cout << md.str() << "\nwrote " << (dir / "results.csv").string() << ", " << (dir / "points.csv").string() << ", "
            << (dir / "results.md").string() << "\n";

  if (args.has("no-plot")) return 0;
  fs::path script;
  try {
    script = args.has("plot-script") ? fs::path(args.get("plot-script")) : find_shipped("tools/plot_sweep.py");
  } catch (const Error& e) {
    std::cout << "plot skipped: " << e.what() << "\n";
    return 0;
  }
  std::string python = args.get("python", fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  if (const char* env = std::getenv("DELAYPROP_PYTHON"); env && !args.has("python")) python = env;
  const pid_t pid = spawn({python, script.string(), (dir / "points.csv").string(), "--out", (dir / "figures").string()}, {});
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exit_code(status) != 0) std::cout << "plot step failed (exit " << exit_code(status) << "); tables are written\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("delayprop-sweep", [&] {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
      std::cout << kUsage;
      return argc < 2 ? 2 : 0;
    }
    if (std::string(argv[1]) == "--version") {
      print_version("delayprop-sweep");
      return 0;
    }
    const std::string sub = argv[1];
    // "-j K" is the one short option (make's spelling); turn it into --jobs.
    std::vector<std::string> rest = {std::string("delayprop-sweep ") + sub};
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-j") a = "--jobs";
      else if (a.rfind("-j", 0) == 0 && a.size() > 2 && a[2] != '-') a = "--jobs=" + a.substr(2);
      rest.push_back(a);
    }
    std::vector<char*> cargv;
    for (auto& a : rest) cargv.push_back(a.data());
    Args args(int(cargv.size()), cargv.data(),
              {"out-dir", "train", "mpirun", "set", "jobs", "partition", "time", "cpus-per-task", "mem", "account",
               "max-parallel", "sbatch-arg", "template", "launcher", "index", "plot-script", "python"},
              {"submit", "resubmit", "no-plot", "help"}, true);
    if (args.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    const auto& pos = args.positional();
    if (pos.size() != 1) throw UsageError(sub + " takes exactly one file or directory argument");
    if (sub == "plan") return cmd_plan(load_sweep(pos[0], args));
    if (sub == "local") return cmd_local(load_sweep(pos[0], args), int(args.get_int("jobs", 1)));
    if (sub == "slurm") return cmd_slurm(load_sweep(pos[0], args), args);
    if (sub == "run") {
      args.require_value("index");
      return cmd_run(pos[0], args.get_int("index", -1));
    }
    if (sub == "aggregate") return cmd_aggregate(fs::absolute(pos[0]).lexically_normal(), args);
    throw UsageError("unknown subcommand '" + sub + "' (plan, local, slurm, run, aggregate)");
  });
}
