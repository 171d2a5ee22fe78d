#pragma once
// Ranks agree before they start: each rank describes what it is about to run as (key, value)
// pairs (the resolved config, a fingerprint of its data); differing_keys compares them over
// all ranks.
#include <string>
#include <utility>
#include <vector>

#include "dist/comm.hpp"

namespace delayprop::dist {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Collective. Returns, the same on every rank, one line per key whose value is not the same
// on every rank (a key missing on some rank counts), e.g. "train.epochs (rank 0: 2, rank
// 1: 5)"; empty when all agree. One hash comparison when they agree; only on a mismatch
// does every rank broadcast its pairs.
std::vector<std::string> differing_keys(Communicator& comm, const KeyValues& entries);

}  // namespace delayprop::dist
