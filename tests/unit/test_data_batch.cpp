// make_batch (binning, merging, late events, sum_channels, input_copies), the sequence task and splits.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "io/data/dataset.hpp"
#include "io/data/generators.hpp"
#include "core/error.hpp"
#include "test_networks.hpp"

using namespace delayprop;

namespace {

Network batch_net(uint32_t inputs, uint32_t classes, double dt, uint32_t steps) {
  return testutil::input_output_net(inputs, classes, dt, steps, PopKind::LI, Readout::Max);
}

EventDataset two_samples(bool merge, uint32_t sum = 1) {
  EventDataset d;
  d.n_channels = 6;
  d.n_classes = 2;
  d.merge_duplicates = merge;
  d.sum_channels = sum;
  EventSample a;
  // Unsorted on purpose; (ch 1, step 2) three times, (ch 0, step 2) once, one event at the
  // trial end (10 ms, dropped) and one after it.
  a.times_ms = {2.9, 0.5, 2.0, 2.5, 2.2, 10.0, 12.0, 9.99};
  a.units = {1, 4, 1, 1, 0, 2, 3, 5};
  a.label = 1;
  EventSample b;
  b.times_ms = {};
  b.units = {};
  b.label = 0;
  d.samples = {a, b};
  return d;
}

}  // namespace

TEST(DataBatch, BinsMergesAndCountsDroppedEvents) {
  const Network net = batch_net(6, 2, 1.0, 10);
  const EventDataset d = two_samples(true);
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  const std::vector<uint32_t> idx{0, 1, 0};
  make_batch(d, idx, net, b, labels, st);
  ASSERT_EQ(b.n_samples, 3u);
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 0, 1}));
  // Sample 0: (0, ch4), (2, ch0), (2, ch1) merged from three, (9, ch5).
  EXPECT_EQ(b.offsets, (std::vector<uint64_t>{0, 4, 4, 8}));
  EXPECT_EQ(std::vector<int32_t>(b.steps.begin(), b.steps.begin() + 4), (std::vector<int32_t>{0, 2, 2, 9}));
  EXPECT_EQ(std::vector<uint32_t>(b.channels.begin(), b.channels.begin() + 4), (std::vector<uint32_t>{4, 0, 1, 5}));
  EXPECT_EQ(st.events, 16u);
  EXPECT_EQ(st.dropped_late, 4u);  // 10.0 (= trial end) and 12.0, twice
  EXPECT_EQ(st.merged, 4u);
  EXPECT_EQ(st.spikes, 8u);

  // Stats accumulate over calls; the batch is rebuilt.
  make_batch(d, std::vector<uint32_t>{1}, net, b, labels, st);
  EXPECT_EQ(b.n_samples, 1u);
  EXPECT_EQ(b.steps.size(), 0u);
  EXPECT_EQ(st.events, 16u);
}

TEST(DataBatch, WithoutMergingEveryEventIsASpike) {
  const Network net = batch_net(6, 2, 1.0, 10);
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  make_batch(two_samples(false), std::vector<uint32_t>{0}, net, b, labels, st);
  EXPECT_EQ(b.steps, (std::vector<int32_t>{0, 2, 2, 2, 2, 9}));
  EXPECT_EQ(b.channels, (std::vector<uint32_t>{4, 0, 1, 1, 1, 5}));
  EXPECT_EQ(st.merged, 0u);
  EXPECT_EQ(st.dropped_late, 2u);
}

TEST(DataBatch, SumChannelsAndFineSteps) {
  // Channels 0..5 summed in pairs -> inputs 0..2; dt 0.5 ms, 20 steps.
  const Network net = batch_net(3, 2, 0.5, 20);
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  make_batch(two_samples(true, 2), std::vector<uint32_t>{0}, net, b, labels, st);
  // Events: (2.9,1)->(5,0) (0.5,4)->(1,2) (2.0,1)->(4,0) (2.5,1)->(5,0) (2.2,0)->(4,0) (9.99,5)->(19,2)
  EXPECT_EQ(b.steps, (std::vector<int32_t>{1, 4, 5, 19}));
  EXPECT_EQ(b.channels, (std::vector<uint32_t>{2, 0, 0, 2}));
  EXPECT_EQ(st.merged, 2u);

  // Without summing, channel 4 does not exist in a 3-input network: an error, not a bad batch.
  try {
    make_batch(two_samples(true, 1), std::vector<uint32_t>{0}, net, b, labels, st);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 input neurons"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_batch(two_samples(true, 2), std::vector<uint32_t>{2}, net, b, labels, st), Error);
}

TEST(DataBatch, InputCopiesDriveEveryCopyOfAChannel) {
  // Channels 0..5 summed in pairs -> 3 channels, each copied twice -> 6 inputs: channel c
  // drives inputs c and c + 3; order stays (step, input).
  const Network net = batch_net(6, 2, 0.5, 20);
  EventDataset d = two_samples(true, 2);
  d.input_copies = 2;
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  make_batch(d, std::vector<uint32_t>{0}, net, b, labels, st);
  EXPECT_EQ(b.steps, (std::vector<int32_t>{1, 1, 4, 4, 5, 5, 19, 19}));
  EXPECT_EQ(b.channels, (std::vector<uint32_t>{2, 5, 0, 3, 0, 3, 2, 5}));
  EXPECT_EQ(st.spikes, 8u);
  EXPECT_EQ(st.merged, 4u);  // two merges, in each copy

  // A channel past one copy's inputs is an error naming the copies.
  d.sum_channels = 1;
  try {
    make_batch(d, std::vector<uint32_t>{0}, net, b, labels, st);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 input neurons per copy (data.input_copies = 2)"), std::string::npos)
        << e.what();
  }
  // Copies that do not divide the inputs.
  d.input_copies = 4;
  EXPECT_THROW(make_batch(d, std::vector<uint32_t>{0}, net, b, labels, st), Error);
  DataSpec spec;
  spec.sum_channels = 2;
  spec.input_copies = 3;
  EXPECT_EQ(data_channels(spec, batch_net(9, 2, 1.0, 10)), 6u);
  EXPECT_THROW(data_channels(spec, batch_net(8, 2, 1.0, 10)), Error);
}

TEST(DataBatch, PerSampleCountersAndBatchesFromTheWholeSet) {
  // The device-resident data set: the whole set made once (per-sample counters kept), a batch
  // then taken from it by sample indices must equal make_batch of those indices: the same
  // spikes in the same order, the same labels and counters.
  const Network net = batch_net(6, 2, 0.5, 20);
  EventDataset d = two_samples(true, 2);
  d.input_copies = 2;
  const std::vector<uint32_t> all{0, 1}, idx{1, 0, 0};
  SpikeBatch whole, direct;
  std::vector<int32_t> whole_labels, labels;
  std::vector<BatchStats> per;
  BatchStats st_whole, st_direct, st_from_set;
  make_batch(d, all, net, whole, whole_labels, st_whole, &per);
  ASSERT_EQ(per.size(), 2u);
  EXPECT_EQ(per[0].events, 8u);
  EXPECT_EQ(per[0].spikes, 8u);
  EXPECT_EQ(per[1].events, 0u);
  make_batch(d, idx, net, direct, labels, st_direct);
  SpikeBatch from_set;
  BatchStats sum;
  std::vector<int32_t> set_labels;
  for (uint32_t i : idx) {
    for (uint64_t k = whole.offsets[i]; k < whole.offsets[i + 1]; ++k) {
      from_set.steps.push_back(whole.steps[k]);
      from_set.channels.push_back(whole.channels[k]);
    }
    from_set.offsets.push_back(from_set.steps.size());
    ++from_set.n_samples;
    set_labels.push_back(whole_labels[i]);
    sum += per[i];
  }
  add_batch_stats(d, net, sum, st_from_set);
  EXPECT_EQ(from_set.offsets, direct.offsets);
  EXPECT_EQ(from_set.steps, direct.steps);
  EXPECT_EQ(from_set.channels, direct.channels);
  EXPECT_EQ(set_labels, labels);
  EXPECT_EQ(st_from_set.events, st_direct.events);
  EXPECT_EQ(st_from_set.spikes, st_direct.spikes);
  EXPECT_EQ(st_from_set.merged, st_direct.merged);
  EXPECT_EQ(st_from_set.dropped_late, st_direct.dropped_late);
  // The late-event policy applies to such a batch too: mostly late is an error.
  BatchStats late;
  late.events = 10;
  late.dropped_late = 6;
  EXPECT_THROW(add_batch_stats(d, net, late, st_from_set), Error);
}

TEST(DataBatch, SequenceTask) {
  const EventDataset d = make_sequence_dataset(4);
  ASSERT_EQ(d.samples.size(), 4u);
  EXPECT_EQ(d.samples[0].label, 0);
  EXPECT_EQ(d.samples[0].units, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(d.samples[1].label, 1);
  EXPECT_EQ(d.samples[1].units, (std::vector<uint32_t>{1, 0}));
  EXPECT_EQ(d.samples[2].label, 0);
  const Network net = batch_net(2, 2, 1.0, 25);
  DataSpec spec;
  spec.kind = "sequence";
  DataSplits s = load_dataset(spec, net);
  EXPECT_EQ(s.train.samples.size(), 2u);
  EXPECT_FALSE(s.has_valid);
  EXPECT_FALSE(s.train.merge_duplicates);
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  make_batch(s.train, std::vector<uint32_t>{0, 1}, net, b, labels, st);
  EXPECT_EQ(b.steps, (std::vector<int32_t>{0, 10, 0, 10}));
  EXPECT_EQ(b.channels, (std::vector<uint32_t>{0, 1, 1, 0}));
  EXPECT_EQ(labels, (std::vector<int32_t>{0, 1}));

  spec.kind = "nonsense";
  EXPECT_THROW(load_dataset(spec, net), Error);
}

TEST(DataBatch, StratifiedAndSpeakerSplits) {
  EventDataset all;
  all.n_channels = 1;
  all.n_classes = 3;
  for (int i = 0; i < 90; ++i) {
    EventSample s;
    s.times_ms = {double(i)};
    s.units = {0};
    s.label = i % 3;
    s.speaker = i / 30;  // speakers 0, 1, 2
    all.samples.push_back(s);
  }
  EventDataset tr, ho;
  split_stratified(all, 0.2, 7, tr, ho);
  EXPECT_EQ(tr.samples.size(), 72u);
  EXPECT_EQ(ho.samples.size(), 18u);
  std::vector<int> c(3, 0);
  for (const auto& s : ho.samples) ++c[size_t(s.label)];
  EXPECT_EQ(c, (std::vector<int>{6, 6, 6}));
  std::set<double> seen;
  for (const auto& s : tr.samples) seen.insert(s.times_ms[0]);
  for (const auto& s : ho.samples) EXPECT_TRUE(seen.insert(s.times_ms[0]).second);
  EXPECT_EQ(seen.size(), 90u);

  const auto held = split_speakers(all, 0.5, tr, ho);
  EXPECT_EQ(held, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(ho.samples.size(), 60u);
  EXPECT_EQ(split_speakers(all, 0.01, tr, ho), (std::vector<int32_t>{2}));
  // All speakers would be needed: one stays in training.
  EXPECT_EQ(split_speakers(all, 0.99, tr, ho), (std::vector<int32_t>{1, 2}));
  all.samples[5].speaker = -1;
  EXPECT_THROW(split_speakers(all, 0.1, tr, ho), Error);
}

// The late-event policy: a batch where more than half of the events fall at or after the
// trial end is an error naming the source and the time unit; fewer are dropped and counted.
TEST(DataBatch, MostlyLateBatchIsAnErrorNamingTimeUnit) {
  const Network net = batch_net(6, 2, 1.0, 10);
  EventDataset d;
  d.n_channels = 6;
  d.n_classes = 2;
  d.source = "x.h5";
  d.time_unit = "s (the default: the file has no time_unit attribute)";
  EventSample s;
  s.times_ms = {1.0, 20.0, 3000.0};
  s.units = {0, 1, 2};
  d.samples = {s};
  SpikeBatch b;
  std::vector<int32_t> labels;
  BatchStats st;
  try {
    make_batch(d, std::vector<uint32_t>{0}, net, b, labels, st);
    FAIL() << "a batch with 2 of 3 events late was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("x.h5"), std::string::npos) << m;
    EXPECT_NE(m.find("2 of 3 events"), std::string::npos) << m;
    EXPECT_NE(m.find("time_unit"), std::string::npos) << m;
  }
  d.samples[0].times_ms = {1.0, 2.0, 3000.0};
  make_batch(d, std::vector<uint32_t>{0}, net, b, labels, st);
  EXPECT_EQ(st.dropped_late, 1u);
  EXPECT_EQ(b.steps.size(), 2u);
}
