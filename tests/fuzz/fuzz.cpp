// delayprop-fuzz: a self-contained mutation fuzzer for the readers of untrusted input:
// configs (load_config), parameter files (read_params), batch files (read_events, then the
// engine's forward and backward as delayprop-grad runs them) and checkpoints
// (read_checkpoint). Seeds: valid files written here by the library's own writers, plus the
// files under --corpus (config/*.toml, params/*.h5, batch/*.h5, checkpoint/*.h5). Each case
// takes a seed, applies 1-8 byte- or token-level mutations, writes it to --work and runs the
// reader in this process.
//
// Every case must end in success or in delayprop::Error with a one-line message naming the
// file; any other exception is a failure. A crash ends the process (under ASan/UBSan with a
// report); the case being run is always at WORK/current-case.* for reproduction. A case
// running longer than --case-timeout seconds is a hang: the process exits 4 naming it.
// Exit code 0 only with 0 failures.
//
//   delayprop-fuzz --corpus DIR --work DIR [--cases N] [--seconds S] [--seed X] [--case-timeout S]
//                  [--log FILE]   (every case's outcome, one line each)
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/loss.hpp"
#include "core/rng.hpp"
#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "io/data/events.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "kernels/common.hpp"
#include "kernels/factory.hpp"
#include "test_networks.hpp"

using namespace delayprop;
namespace fs = std::filesystem;

namespace {

const std::string kBaseConfig = std::string("# fuzz base network\n") + testutil::kSmallNetworkToml + R"([train]
epochs = 2
batch_size = 4
[data]
kind = "yinyang"
n_train = 100
shift = 0
[engine]
precision = "float64"
threads = 2
)";

using Bytes = std::string;

struct Rng64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? size_t(next() % n) : 0; }
};

Bytes read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
void write_file(const std::string& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(b.data(), std::streamsize(b.size()));
}

const char* kNumbers[] = {"0",          "-1",         "1",          "4294967297", "4294967296", "2147483648",
                          "2147483647", "-2147483649", "1000000000", "199999",     "100000",     "1e9",
                          "1e300",      "-1e300",     "nan",        "inf",        "0.02",       "99999999999999999999",
                          "9223372036854775807",      "-9223372036854775808",     "0x7fffffff", "1e-300"};

void mutate_bytes(Bytes& b, Rng64& r) {
  if (b.empty()) {
    b.push_back(char(r.next()));
    return;
  }
  static const uint64_t kInts[] = {0, 0xffffffffffffffffULL, 0x7fffffff, 0x80000000ULL, 0xffffffffULL,
                                   0x100000001ULL, 1ULL << 40, 1ULL << 62, 0x7fffffffffffffffULL};
  switch (r.below(8)) {
    case 0: b[r.below(b.size())] ^= char(1u << r.below(8)); break;
    case 1: b[r.below(b.size())] = char(r.next()); break;
    case 2: {
      static const unsigned char v[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe};
      b[r.below(b.size())] = char(v[r.below(sizeof v)]);
      break;
    }
    case 3: {  // an interesting integer, 1, 2, 4 or 8 bytes little-endian
      const uint64_t x = kInts[r.below(sizeof kInts / sizeof kInts[0])];
      const size_t w = size_t(1) << r.below(4);
      const size_t at = r.below(b.size());
      for (size_t i = 0; i < w && at + i < b.size(); ++i) b[at + i] = char((x >> (8 * i)) & 0xff);
      break;
    }
    case 4: b.resize(r.below(b.size()) + 1); break;  // truncate
    case 5: {                                          // delete a chunk
      const size_t at = r.below(b.size()), n = 1 + r.below(64);
      b.erase(at, std::min(n, b.size() - at));
      break;
    }
    case 6: {  // duplicate a chunk in place
      const size_t at = r.below(b.size()), n = 1 + r.below(64);
      b.insert(at, b.substr(at, n));
      break;
    }
    default: {  // copy a chunk over another place
      const size_t from = r.below(b.size()), to = r.below(b.size()), n = 1 + r.below(16);
      const Bytes c = b.substr(from, n);
      for (size_t i = 0; i < c.size() && to + i < b.size(); ++i) b[to + i] = c[i];
    }
  }
}

// Token-level mutations for TOML: numbers, lines and strings.
void mutate_text(Bytes& t, Rng64& r) {
  std::vector<std::string> lines;
  {
    std::stringstream ss(t);
    for (std::string l; std::getline(ss, l);) lines.push_back(l);
  }
  if (lines.empty()) lines.push_back("");
  const size_t li = r.below(lines.size());
  std::string& l = lines[li];
  switch (r.below(6)) {
    case 0: {  // replace a number with an interesting one
      std::vector<size_t> starts;
      for (size_t i = 0; i < l.size(); ++i)
        if ((isdigit((unsigned char)l[i]) || l[i] == '-') && (i == 0 || !isalnum((unsigned char)l[i - 1]))) starts.push_back(i);
      if (starts.empty()) {
        if (const auto eq = l.find("= "); eq != std::string::npos) l = l.substr(0, eq + 2) + kNumbers[r.below(std::size(kNumbers))];
        break;
      }
      const size_t s = starts[r.below(starts.size())];
      size_t e = s + 1;
      while (e < l.size() && (isalnum((unsigned char)l[e]) || l[e] == '.' || l[e] == '-' || l[e] == '+')) ++e;
      l = l.substr(0, s) + kNumbers[r.below(std::size(kNumbers))] + l.substr(e);
      break;
    }
    case 1: lines.erase(lines.begin() + long(li)); break;
    case 2: lines.insert(lines.begin() + long(li), l); break;
    case 3: {  // a string value emptied or replaced
      const auto q = l.find('"');
      const auto q2 = q == std::string::npos ? q : l.find('"', q + 1);
      static const char* kStr[] = {"", "in", "out", "hid", "lif", "input", "first_spike", "cuda", "float16", "values"};
      if (q2 != std::string::npos) l = l.substr(0, q + 1) + kStr[r.below(std::size(kStr))] + l.substr(q2);
      break;
    }
    case 4: {  // a key the schema knows, with an interesting value
      static const char* kKeys[] = {"steps", "size", "max_delay", "batch_size", "epochs", "threads", "shift",
                                    "n_train", "seed", "dt", "duration", "sum_channels", "blend", "patience"};
      lines.insert(lines.begin() + long(li), std::string(kKeys[r.below(std::size(kKeys))]) + " = " +
                                                  kNumbers[r.below(std::size(kNumbers))]);
      break;
    }
    default: {
      Bytes b = l;
      mutate_bytes(b, r);
      l = b;
    }
  }
  t.clear();
  for (const auto& x : lines) t += x + "\n";
}

struct Target {
  std::string name, ext;
  std::vector<Bytes> seeds;
  size_t n_mutable = 0;  // seeds[0, n_mutable) are mutated; the rest (*.once.*) run once
  uint64_t cases = 0, accepted = 0, rejected = 0, contained = 0;
  std::vector<std::string> samples;  // a few rejection messages
};

volatile sig_atomic_t g_case = 0;
const char* g_target = "";
void on_alarm(int) {
  char buf[160];
  const int n = std::snprintf(buf, sizeof buf, "delayprop-fuzz: HANG: case %d (%s) ran past the case timeout\n",
                              int(g_case), g_target);
  if (n > 0) (void)!::write(2, buf, size_t(n));
  ::_exit(4);
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus, work = "fuzz-work", log_path;
  uint64_t max_cases = 0, seed = 1;
  double seconds = 0, case_timeout = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--corpus") corpus = v;
    else if (a == "--work") work = v;
    else if (a == "--cases") max_cases = std::stoull(v);
    else if (a == "--seconds") seconds = std::stod(v);
    else if (a == "--seed") seed = std::stoull(v);
    else if (a == "--case-timeout") case_timeout = std::stod(v);
    else if (a == "--log") log_path = v;
    else {
      std::cerr << "delayprop-fuzz: unknown option " << a << "\n";
      return 2;
    }
  }
  if (max_cases == 0 && seconds == 0) max_cases = 200;
  fs::create_directories(work);
  fs::create_directories(work + "/ck");
  // A corrupt file must not make the checking child wait for minutes.
  setenv("DELAYPROP_H5_CHECK_TIMEOUT", "5", 0);
  // Giant configs are refused by the memory check, not by the machine.
  setenv("DELAYPROP_MEMORY_LIMIT", "2000000000", 0);
  ::signal(SIGALRM, on_alarm);

  const Config base = parse_config(kBaseConfig, "base.toml");
  const Network& net = base.net;
  std::vector<Target> targets(4);
  for (size_t i = 0; i < 4; ++i) {
    targets[i].name = std::vector<std::string>{"config", "params", "batch", "checkpoint"}[i];
    targets[i].ext = i == 0 ? "toml" : "h5";
  }
  // Valid seeds written by the library's writers.
  targets[0].seeds.push_back(kBaseConfig);
  const auto params = init_params(net, 7);
  {
    auto f = h5::File::create(work + "/seed-params.h5");
    write_params(net, params, f);
    f.close();
    targets[1].seeds.push_back(read_file(work + "/seed-params.h5"));
  }
  {
    EventDataset d;
    d.n_channels = 2;
    d.n_classes = 2;
    for (int s = 0; s < 3; ++s) {
      EventSample e;
      e.times_ms = {1.0 + s, 3.5, 7.25};
      e.units = {0, 1, uint32_t(s % 2)};
      e.label = s % 2;
      d.samples.push_back(e);
    }
    write_events(work + "/seed-batch.h5", d, "s");
    targets[2].seeds.push_back(read_file(work + "/seed-batch.h5"));
  }
  {
    TrainState st;
    st.params = params;
    st.best_params = params;
    st.adam_m.assign(net.n_params, 0.01);
    st.adam_v.assign(net.n_params, 0.001);
    st.adam_t = 5;
    st.epoch = 1;
    st.batch = 2;
    st.epoch_spike_counts.assign(3, 1.0);
    fs::create_directories(work + "/seed-ck");
    write_checkpoint(work + "/seed-ck", net, st, base.resolved_toml, 1);
    targets[3].seeds.push_back(read_file(work + "/seed-ck/checkpoint.h5"));
  }
  if (!corpus.empty())
    for (auto& t : targets) {
      const fs::path dir = fs::path(corpus) / t.name;
      if (!fs::is_directory(dir)) continue;
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      // Files named *.once.* (e.g. one that makes libhdf5 loop until the checking child's
      // timeout) run once as cases but are not mutated: their mutants would mostly loop too.
      std::stable_partition(files.begin(), files.end(),
                            [](const fs::path& p) { return p.filename().string().find(".once.") == std::string::npos; });
      for (const auto& p : files) {
        t.seeds.push_back(read_file(p.string()));
        if (p.filename().string().find(".once.") == std::string::npos) ++t.n_mutable;
      }
    }
  for (auto& t : targets)
    if (t.n_mutable == 0 || t.n_mutable > t.seeds.size()) t.n_mutable = t.name == "config" ? t.seeds.size() : 1;

  std::ofstream log;
  if (!log_path.empty()) log.open(log_path);
  Rng64 rng{seed};
  uint64_t failures = 0, n = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  while ((max_cases == 0 || n < max_cases) && (seconds == 0 || elapsed() < seconds)) {
    Target& t = targets[n % targets.size()];
    // The seeds themselves first (the corpus is the regression set), then mutations.
    const uint64_t round = n / targets.size();
    Bytes b = round < t.seeds.size() ? t.seeds[round] : t.seeds[round % t.n_mutable];
    if (round >= t.seeds.size()) {
      const size_t m = 1 + rng.below(rng.below(2) ? 2 : 8);
      for (size_t i = 0; i < m; ++i) t.name == "config" && rng.below(3) ? mutate_text(b, rng) : mutate_bytes(b, rng);
    }
    const std::string path =
        t.name == "checkpoint" ? work + "/ck/checkpoint.h5" : work + "/current-case." + t.name + "." + t.ext;
    write_file(path, b);
    if (t.name == "checkpoint") write_file(work + "/current-case.checkpoint.h5", b);
    g_case = int(n);
    g_target = t.name.c_str();
    alarm(unsigned(case_timeout));
    ++t.cases;
    try {
      if (t.name == "config") {
        Config c = load_config(path);
        check_engine_memory(c.net, c.engine, c.source);
        (void)config_entries(c);
      } else if (t.name == "params") {
        (void)read_params(net, path);
      } else if (t.name == "batch") {
        EventDataset d = read_events(path, net.n_input_channels, net.pops[net.output].size);
        SpikeBatch batch;
        std::vector<int32_t> labels;
        for (const auto& s : d.samples) {
          batch.add_sample(s.times_ms, s.units, net.dt);
          labels.push_back(s.label);
        }
        if (batch.n_samples > 0 && batch.n_samples <= 64) {
          auto engine = make_engine(net, base.engine);
          ForwardOutputs fwd;
          try {
            engine->forward(params, batch, fwd);
          } catch (const Error& e) {
            fail(path, ": ", e.what());
          }
          BackwardInputs bin;
          compute_loss(base.loss, fwd, labels, batch.n_samples, bin);
          std::vector<double> grad(net.n_params);
          engine->backward(params, bin, grad);
        }
      } else {
        (void)read_checkpoint(work + "/ck", net);
      }
      ++t.accepted;
      if (log.is_open()) log << n << " " << t.name << " accepted\n";
    } catch (const Error& e) {
      const std::string msg = e.what();
      const std::string file = fs::path(path).filename().string();
      const bool one_line = msg.find('\n') == std::string::npos && !msg.empty();
      const bool names_file = msg.find(file) != std::string::npos;
      if (!one_line || !names_file) {
        ++failures;
        std::cerr << "delayprop-fuzz: FAIL case " << n << " (" << t.name << "): the error "
                  << (one_line ? "does not name the file" : "is not one line") << ": " << msg << "\n";
        write_file(work + "/failure-" + std::to_string(n) + "." + t.name + "." + t.ext, b);
      } else {
        ++t.rejected;
        if (log.is_open()) log << n << " " << t.name << " rejected: " << msg << "\n";
        if (msg.find("checking subprocess") != std::string::npos) {
          ++t.contained;  // kept: a candidate for the corpus
          write_file(work + "/contained-" + std::to_string(n) + "." + t.name + "." + t.ext, b);
        }
        if (t.samples.size() < 3 && (t.samples.empty() || t.samples.back().substr(0, 40) != msg.substr(0, 40)))
          t.samples.push_back(msg);
      }
    } catch (const std::exception& e) {
      ++failures;
      std::cerr << "delayprop-fuzz: FAIL case " << n << " (" << t.name << "): exception other than a clear error: "
                << e.what() << "\n";
      write_file(work + "/failure-" + std::to_string(n) + "." + t.name + "." + t.ext, b);
    }
    alarm(0);
    ++n;
  }
  std::cout << "delayprop-fuzz: " << n << " cases (seed " << seed << ") in " << elapsed() << " s:";
  for (const auto& t : targets) std::cout << " " << t.name << " " << t.cases;
  std::cout << "\n";
  for (const auto& t : targets) {
    std::cout << "  " << t.name << ": " << t.seeds.size() << " seeds, " << t.cases << " cases, " << t.accepted
              << " accepted, " << t.rejected << " rejected with a one-line error naming the file";
    if (t.contained) std::cout << " (" << t.contained << " of them libhdf5 failures contained in the checking child)";
    std::cout << "\n";
    for (const auto& s : t.samples) std::cout << "    e.g. " << s << "\n";
  }
  std::cout << "delayprop-fuzz: " << failures << " failures, 0 crashes, 0 hangs\n";
  return failures ? 1 : 0;
}
