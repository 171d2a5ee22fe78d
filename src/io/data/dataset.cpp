#include "io/data/dataset.hpp"

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <set>
#include <sstream>

#include "io/data/generators.hpp"
#include "core/error.hpp"
#include "io/h5.hpp"
#include "core/rng.hpp"

namespace delayprop {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTagSplit = 0x5b117ULL;

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// A published file: a clear error when only the compressed download is there.
std::string require_file(const std::string& dir, const std::string& name, const std::string& kind) {
  const std::string p = join(dir, name);
  if (fs::exists(p)) return p;
  if (fs::exists(p + ".gz"))
    fail(p, ": not found, but ", p, ".gz is: decompress it first (gunzip -k ", p, ".gz)");
  fail(p, ": no such file (data.kind = \"", kind, "\" reads ", name, " from data.path = \"", dir,
       "\"; see docs/DATA.md for how to obtain it)");
}

EventDataset subset(const EventDataset& all, const std::vector<uint32_t>& idx) {
  EventDataset d;
  d.n_channels = all.n_channels;
  d.n_classes = all.n_classes;
  d.merge_duplicates = all.merge_duplicates;
  d.sum_channels = all.sum_channels;
  d.input_copies = all.input_copies;
  d.source = all.source;
  d.time_unit = all.time_unit;
  d.has_labels = all.has_labels;
  d.samples.reserve(idx.size());
  for (uint32_t i : idx) d.samples.push_back(all.samples[i]);
  return d;
}

void truncate(EventDataset& d, uint32_t n) {
  if (n > 0 && n < d.samples.size()) d.samples.resize(n);
}

// Applies data.validation for kinds whose default is given by `default_valid` (may be null:
// no validation split by default).
void choose_validation(const DataSpec& spec, DataSplits& d, EventDataset* default_valid, const std::string& what) {
  const std::string& v = spec.validation;
  std::ostringstream desc;
  if (v == "default") {
    d.has_valid = default_valid != nullptr;
    if (default_valid) d.valid = std::move(*default_valid);
    desc << (d.has_valid ? what : std::string("none"));
  } else if (v == "none") {
    d.has_valid = false;
    desc << "none";
  } else if (v == "split" || v == "speakers") {
    require(spec.valid_fraction > 0 && spec.valid_fraction < 1, "data.valid_fraction must be in (0, 1), got ",
            spec.valid_fraction);
    EventDataset all = std::move(d.train);
    if (v == "split") {
      split_stratified(all, spec.valid_fraction, spec.seed, d.train, d.valid);
      desc << "stratified " << spec.valid_fraction << " of train (seed " << spec.seed << ")";
    } else {
      d.valid_speakers = split_speakers(all, spec.valid_fraction, d.train, d.valid);
      desc << "held-out speakers";
      for (int32_t s : d.valid_speakers) desc << " " << s;
    }
    d.has_valid = true;
  } else {
    fail("data.validation must be default, none, split or speakers, got \"", v, "\"");
  }
  d.description += ", validation: " + desc.str();
}

// Reads {prefix}train/valid/test files in the event layout with the channels/classes expected.
void load_event_files(const DataSpec& spec, DataSplits& d, const std::string& train_name,
                      const std::string& valid_name, const std::string& test_name, uint32_t channels,
                      uint32_t classes, bool valid_optional) {
  require(!spec.path.empty(), "data.path must name the directory of the ", spec.kind, " files");
  const std::string train_path = require_file(spec.path, train_name, spec.kind);
  h5::read_untrusted(train_path, [&] {
    // read_events trusts the counts it is given; a file that states other ones is an error.
    auto f = h5::File::open_read(train_path);
    for (auto [attr, want] : {std::pair<const char*, uint32_t>{"n_channels", channels}, {"n_classes", classes}})
      if (f.has_attr(attr)) {
        const std::string v = f.read_string_attr(attr);
        require(v == std::to_string(want), train_path, ": attribute ", attr, " is ", v, " but data.kind \"",
                spec.kind, "\" with this network expects ", want);
      }
    return 0;
  });
  d.train = read_events(train_path, channels, classes);
  d.test = read_events(require_file(spec.path, test_name, spec.kind), channels, classes);
  truncate(d.train, spec.n_train);
  truncate(d.test, spec.n_test);
  EventDataset valid;
  bool have_valid = false;
  if (!valid_name.empty() && spec.validation == "default") {
    const std::string p = join(spec.path, valid_name);
    if (!valid_optional || fs::exists(p)) {
      valid = read_events(require_file(spec.path, valid_name, spec.kind), channels, classes);
      truncate(valid, spec.n_valid);
      have_valid = true;
    }
  }
  std::ostringstream desc;
  desc << spec.kind << " from " << spec.path << ": train " << d.train.samples.size() << ", test "
       << d.test.samples.size();
  d.description = desc.str();
  choose_validation(spec, d, have_valid ? &valid : nullptr, valid_name);
}

void check_braille_threshold_file(const DataSpec& spec, const std::string& path);
// The converter records its threshold; a config asking for another one is an error.
void check_braille_threshold(const DataSpec& spec) {
  require(!spec.path.empty(), "data.path must name the directory made by tools/braille_convert.py");
  const std::string path = require_file(spec.path, "train.h5", spec.kind);
  h5::read_untrusted(path, [&] { check_braille_threshold_file(spec, path); return 0; });
}

void check_braille_threshold_file(const DataSpec& spec, const std::string& path) {
  auto f = h5::File::open_read(path);
  if (!f.has_attr("threshold")) return;
  const std::string t = f.read_string_attr("threshold");
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  require(end != t.c_str() && *end == '\0', f.path(), ": attribute threshold is not a number: \"", t, "\"");
  require(v == spec.threshold, f.path(), ": attribute threshold is ", t, " but data.threshold is ", spec.threshold,
          " (set data.threshold = ", t, ", or convert with tools/braille_convert.py --threshold ", spec.threshold,
          ")");
}

}  // namespace

void set_batching(EventDataset& data, const DataSpec& spec) {
  data.merge_duplicates = kind_merges_duplicates(spec.kind);
  data.sum_channels = std::max(1u, spec.sum_channels);
  data.input_copies = std::max(1u, spec.input_copies);
}

uint32_t data_channels(const DataSpec& spec, const Network& net) {
  require(spec.sum_channels >= 1, "data.sum_channels must be >= 1");
  require(spec.input_copies >= 1 && net.n_input_channels % spec.input_copies == 0, "data.input_copies = ",
          spec.input_copies, " must divide the network's ", net.n_input_channels, " input neurons");
  return net.n_input_channels / spec.input_copies * spec.sum_channels;
}

std::pair<uint64_t, uint64_t> count_late_events(const EventDataset& data, const Network& net) {
  uint64_t late = 0, events = 0;
  for (const auto& s : data.samples) {
    events += s.times_ms.size();
    for (double t : s.times_ms) late += std::floor(t / net.dt) >= double(net.n_steps);
  }
  return {late, events};
}

void check_late_events(const EventDataset& data, const Network& net, uint64_t events, uint64_t late,
                       const std::string& what) {
  if (events == 0 || 2 * late <= events) return;
  fail(data.source, ": ", late, " of ", events, " events of ", what, " fall at or after the trial end (",
       net.trial_ms(), " ms): times were read in ", data.time_unit,
       "; if they are in ms, set the file's root attribute time_unit = \"ms\" (docs/DATA.md)");
}

EventDataset read_input_events(const std::string& path, const DataSpec& spec, const Network& net,
                               bool labels_optional) {
  EventDataset d = read_events(path, data_channels(spec, net), net.pops.at(net.output).size, labels_optional);
  set_batching(d, spec);
  const auto [late, events] = count_late_events(d, net);
  check_late_events(d, net, events, late, "the file");
  return d;
}

std::string data_fingerprint(const DataSplits& d) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  };
  auto mix_set = [&](const EventDataset& e) {
    const uint64_t head[4] = {e.samples.size(), e.n_channels, uint64_t(e.merge_duplicates), e.sum_channels};
    mix(head, sizeof head);
    for (const auto& s : e.samples) {
      const uint64_t n = s.times_ms.size();
      mix(&n, sizeof n);
      mix(s.times_ms.data(), n * sizeof(double));
      mix(s.units.data(), n * sizeof(uint32_t));
      mix(&s.label, sizeof s.label);
    }
  };
  mix_set(d.train);
  mix_set(d.has_valid ? d.valid : EventDataset{});
  mix_set(d.test);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool kind_merges_duplicates(const std::string& kind) {
  return kind == "shd" || kind == "ssc" || kind == "braille" || kind == "events";
}

DataSplits load_dataset(const DataSpec& spec, const Network& net) {
  const std::string& kind = spec.kind;
  DataSplits d;
  // Raw channels the network expects (before summing groups of sum_channels and copying).
  const uint32_t K = net.pops.at(net.output).size;
  const uint32_t want_raw = data_channels(spec, net);

  if (kind == "sequence") {
    d.train = make_sequence_dataset(spec.n_train ? spec.n_train : 2);
    d.test = make_sequence_dataset(spec.n_test ? spec.n_test : 2);
    d.description = "sequence: train " + std::to_string(d.train.samples.size()) + ", test " +
                    std::to_string(d.test.samples.size());
    choose_validation(spec, d, nullptr, "");
  } else if (kind == "delay_order") {
    // Splits from seed, seed + 1, seed + 2 (data.seed 0 counts as 1).
    const uint64_t s = spec.seed ? spec.seed : 1;
    d.train = make_delay_order_dataset(s, spec.n_train ? spec.n_train : 200);
    EventDataset valid = make_delay_order_dataset(s + 1, spec.n_valid ? spec.n_valid : 100);
    d.test = make_delay_order_dataset(s + 2, spec.n_test ? spec.n_test : 200);
    d.description = "delay_order: train " + std::to_string(d.train.samples.size()) + ", test " +
                    std::to_string(d.test.samples.size()) + " (seed " + std::to_string(s) + ")";
    choose_validation(spec, d, &valid, "generated, seed " + std::to_string(s + 1));
  } else if (kind == "yinyang") {
    // seed 0: the published splits (42 / 41 / 40); otherwise seed, seed + 1, seed + 2.
    const uint64_t s = spec.seed;
    require(s <= UINT32_MAX - 2, "data.seed for yinyang must fit in 32 bits, got ", s);
    const uint32_t st = s ? uint32_t(s) : 42u, sv = s ? uint32_t(s + 1) : 41u, ss = s ? uint32_t(s + 2) : 40u;
    d.train = yinyang_events(generate_yinyang(st, spec.n_train ? spec.n_train : 5000));
    d.test = yinyang_events(generate_yinyang(ss, spec.n_test ? spec.n_test : 1000));
    EventDataset valid = yinyang_events(generate_yinyang(sv, spec.n_valid ? spec.n_valid : 1000));
    std::ostringstream desc;
    desc << "yinyang: train " << d.train.samples.size() << " (seed " << st << "), test " << d.test.samples.size()
         << " (seed " << ss << ")";
    d.description = desc.str();
    choose_validation(spec, d, &valid, "generated, seed " + std::to_string(sv));
  } else if (kind == "shd") {
    load_event_files(spec, d, "shd_train.h5", "", "shd_test.h5", 700, 20, false);
  } else if (kind == "ssc") {
    load_event_files(spec, d, "ssc_train.h5", "ssc_valid.h5", "ssc_test.h5", 700, 35, false);
  } else if (kind == "braille" || kind == "events") {
    const bool braille = kind == "braille";
    if (braille) check_braille_threshold(spec);
    load_event_files(spec, d, "train.h5", "valid.h5", "test.h5", braille ? 24 : want_raw, braille ? 27 : K, !braille);
  } else {
    fail("data.kind must be sequence, delay_order, yinyang, shd, ssc, braille or events, got \"", kind, "\"");
  }
  for (EventDataset* e : {&d.train, &d.valid, &d.test}) set_batching(*e, spec);

  const uint32_t raw = d.train.n_channels;
  const uint32_t inputs = (raw + spec.sum_channels - 1) / spec.sum_channels * spec.input_copies;
  std::string after;
  if (spec.sum_channels > 1) after += " after data.sum_channels = " + std::to_string(spec.sum_channels);
  if (spec.input_copies > 1) after += std::string(after.empty() ? " after" : ",") +
                                      " data.input_copies = " + std::to_string(spec.input_copies);
  require(inputs == net.n_input_channels, "data.kind \"", kind, "\" has ", raw, " input channels",
          after.empty() ? std::string() : " (" + std::to_string(inputs) + after + ")", " but the network has ",
          net.n_input_channels, " input neurons");
  require(d.train.n_classes == K, "data.kind \"", kind, "\" has ", d.train.n_classes,
          " classes but the output population '", net.pops[net.output].name, "' has ", K, " neurons");
  require(!d.train.samples.empty(), "data.kind \"", kind, "\": the training set is empty");
  const double end_ms = net.trial_ms();
  for (auto [e, what] : {std::pair<const EventDataset*, const char*>{&d.train, "the training split"},
                         {&d.valid, "the validation split"}, {&d.test, "the test split"}}) {
    const auto [late, events] = count_late_events(*e, net);
    check_late_events(*e, net, events, late, what);
    d.dropped_events += late;
  }
  if (d.dropped_events)
    d.description += ", " + std::to_string(d.dropped_events) + " events at or after the trial end (" +
                     std::to_string(end_ms) + " ms) will be dropped";
  return d;
}

void add_batch_stats(const EventDataset& data, const Network& net, const BatchStats& batch, BatchStats& stats) {
  check_late_events(data, net, batch.events, batch.dropped_late, "a batch");
  stats += batch;
}

void make_batch(const EventDataset& data, std::span<const uint32_t> idx, const Network& net, SpikeBatch& out,
                std::vector<int32_t>& labels, BatchStats& stats, std::vector<BatchStats>* per_sample) {
  out.clear();
  labels.clear();
  const uint32_t sum = std::max(1u, data.sum_channels);
  const uint32_t copies = std::max(1u, data.input_copies);
  require(net.n_input_channels % copies == 0, "make_batch: data.input_copies = ", copies, " must divide the network's ",
          net.n_input_channels, " input neurons");
  const uint32_t per_copy = net.n_input_channels / copies;
  const double dt = net.dt;
  const size_t n = idx.size();
  for (uint32_t i : idx) {
    require(i < data.samples.size(), "make_batch: sample index ", i, " out of range (", data.samples.size(),
            " samples)");
    require(data.samples[i].times_ms.size() == data.samples[i].units.size(), "make_batch: sample ", i, " has ",
            data.samples[i].times_ms.size(), " times but ", data.samples[i].units.size(), " units");
  }
  // Per sample, in parallel: keys (step << 32) | channel, sorted (by step, then channel).
  // Nothing may throw inside the parallel loop: the first bad event is recorded instead.
  std::vector<std::vector<uint64_t>> keys(n);
  std::vector<BatchStats> per(n);
  std::vector<int64_t> bad_event(n, -1);
#pragma omp parallel for schedule(dynamic, 4)
  for (size_t b = 0; b < n; ++b) {
    const EventSample& s = data.samples[idx[b]];
    auto& k = keys[b];
    k.reserve(s.times_ms.size() * copies);
    for (size_t e = 0; e < s.times_ms.size(); ++e) {
      const double t = s.times_ms[e];
      const uint32_t c = s.units[e] / sum;
      if (!(std::isfinite(t) && t >= 0) || c >= per_copy) {
        bad_event[b] = int64_t(e);
        break;
      }
      const double step = std::floor(t / dt);
      if (step >= double(net.n_steps)) {
        ++per[b].dropped_late;
        continue;
      }
      for (uint32_t copy = 0; copy < copies; ++copy) k.push_back((uint64_t(step) << 32) | (c + copy * per_copy));
    }
    per[b].events = s.times_ms.size();
    std::sort(k.begin(), k.end());
    if (data.merge_duplicates) {
      const size_t before = k.size();
      k.erase(std::unique(k.begin(), k.end()), k.end());
      per[b].merged = before - k.size();
    }
    per[b].spikes = k.size();
  }
  BatchStats batch_stats;
  for (size_t b = 0; b < n; ++b) batch_stats += per[b];
  for (size_t b = 0; b < n; ++b) {
    if (bad_event[b] < 0) continue;
    const uint32_t i = idx[b];
    const size_t e = size_t(bad_event[b]);
    const double t = data.samples[i].times_ms[e];
    require(std::isfinite(t) && t >= 0, "make_batch: sample ", i, " event ", e, " has time ", t, " ms");
    fail("make_batch: sample ", i, " event ", e, ": channel ", data.samples[i].units[e], " maps to input ",
         data.samples[i].units[e] / sum, ", but the network has ", per_copy, " input neurons",
         copies > 1 ? " per copy (data.input_copies = " + std::to_string(copies) + ")" : std::string());
  }
  add_batch_stats(data, net, batch_stats, stats);
  if (per_sample) *per_sample = std::move(per);
  size_t total = 0;
  for (const auto& k : keys) total += k.size();
  out.steps.reserve(total);
  out.channels.reserve(total);
  out.offsets.reserve(n + 1);
  labels.reserve(n);
  for (size_t b = 0; b < n; ++b) {
    for (uint64_t k : keys[b]) {
      out.steps.push_back(int32_t(k >> 32));
      out.channels.push_back(uint32_t(k & 0xffffffffu));
    }
    out.offsets.push_back(out.steps.size());
    ++out.n_samples;
    labels.push_back(data.samples[idx[b]].label);
  }
}

void split_stratified(const EventDataset& all, double fraction, uint64_t seed, EventDataset& train,
                      EventDataset& held_out) {
  require(fraction >= 0 && fraction <= 1, "split: fraction must be in [0, 1], got ", fraction);
  std::vector<std::vector<uint32_t>> by_class;
  for (size_t i = 0; i < all.samples.size(); ++i) {
    const size_t c = size_t(std::max(0, all.samples[i].label));
    if (c >= by_class.size()) by_class.resize(c + 1);
    by_class[c].push_back(uint32_t(i));
  }
  std::vector<char> out(all.samples.size(), 0);
  for (size_t c = 0; c < by_class.size(); ++c) {
    auto& v = by_class[c];
    Rng rng(hash_key(seed, kTagSplit, c));
    for (size_t k = v.size(); k > 1; --k) std::swap(v[k - 1], v[rng.below(k)]);  // Fisher-Yates
    const size_t take = size_t(std::llround(fraction * double(v.size())));
    for (size_t k = 0; k < take; ++k) out[v[k]] = 1;
  }
  std::vector<uint32_t> a, b;
  for (size_t i = 0; i < all.samples.size(); ++i) (out[i] ? b : a).push_back(uint32_t(i));
  train = subset(all, a);
  held_out = subset(all, b);
}

std::vector<int32_t> split_speakers(const EventDataset& all, double fraction, EventDataset& train,
                                    EventDataset& held_out) {
  std::set<int32_t> speakers;
  for (const auto& s : all.samples) speakers.insert(s.speaker);
  require(!speakers.count(-1), "validation = \"speakers\": the training file has no speaker per sample (extra/speaker)");
  require(speakers.size() >= 2, "validation = \"speakers\": need at least two training speakers, found ",
          speakers.size());
  std::vector<int32_t> held;
  size_t n_held = 0;
  for (auto it = speakers.rbegin(); it != speakers.rend() && held.size() + 1 < speakers.size(); ++it) {
    if (!held.empty() && double(n_held) >= fraction * double(all.samples.size())) break;
    held.push_back(*it);
    for (const auto& s : all.samples) n_held += s.speaker == *it;
  }
  std::sort(held.begin(), held.end());
  std::vector<uint32_t> a, b;
  for (size_t i = 0; i < all.samples.size(); ++i)
    (std::binary_search(held.begin(), held.end(), all.samples[i].speaker) ? b : a).push_back(uint32_t(i));
  train = subset(all, a);
  held_out = subset(all, b);
  return held;
}

}  // namespace delayprop
