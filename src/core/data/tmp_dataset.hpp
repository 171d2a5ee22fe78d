#pragma once
// TEMPORARY until the data module lands: sequence task only.
#include <span>
#include <vector>
#include "core/config.hpp"
#include "core/data/events.hpp"
#include "core/spikes.hpp"
namespace delayprop {
struct DataSplits { EventDataset train, valid, test; bool has_valid = false, has_test = false; bool merge_duplicates = false; };
struct BatchStats { uint64_t dropped_events = 0; };
DataSplits load_dataset(const DataSpec& spec, const Network& net);
void make_batch(const EventDataset& d, std::span<const uint32_t> idx, const Network& net, bool merge, SpikeBatch& out,
                std::vector<int32_t>& labels, BatchStats& stats);
}
