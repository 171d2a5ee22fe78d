#include "dist/agree.hpp"

#include <cstdint>
#include <map>
#include <optional>

namespace delayprop::dist {
namespace {

std::string serialize(const KeyValues& entries) {
  std::string s;
  for (const auto& [k, v] : entries) {
    s += k;
    s += '\0';
    s += v;
    s += '\0';
  }
  return s;
}

KeyValues deserialize(const std::string& s) {
  KeyValues out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t a = s.find('\0', i);
    if (a == std::string::npos) break;
    const size_t b = s.find('\0', a + 1);
    if (b == std::string::npos) break;
    out.emplace_back(s.substr(i, a - i), s.substr(a + 1, b - a - 1));
    i = b + 1;
  }
  return out;
}

std::string shorten(const std::string& v) { return v.size() <= 40 ? v : v.substr(0, 37) + "..."; }

}  // namespace

std::vector<std::string> differing_keys(Communicator& comm, const KeyValues& entries) {
  const std::string mine = serialize(entries);
  if (same_on_all_ranks(comm, std::as_bytes(std::span<const char>(mine.data(), mine.size())))) return {};
  // Every rank's pairs to every rank, one rank at a time.
  const int n = comm.size();
  std::map<std::string, std::vector<std::optional<std::string>>> by_key;
  for (int r = 0; r < n; ++r) {
    uint64_t len = r == comm.rank() ? mine.size() : 0;
    comm.broadcast_value(len, r);
    std::string buf = r == comm.rank() ? mine : std::string(len, '\0');
    if (len > 0) comm.broadcast(std::as_writable_bytes(std::span<char>(buf.data(), buf.size())), r);
    for (auto& [k, v] : deserialize(buf)) {
      auto& vals = by_key[k];
      vals.resize(size_t(n));
      vals[size_t(r)] = v;
    }
  }
  std::vector<std::string> out;
  for (auto& [k, vals] : by_key) {
    vals.resize(size_t(n));
    bool same = true;
    for (int r = 1; r < n; ++r) same = same && vals[size_t(r)] == vals[0];
    if (same) continue;
    std::string line = k + " (";
    int shown = 0;
    for (int r = 0; r < n; ++r) {
      if (r > 0 && vals[size_t(r)] == vals[size_t(r - 1)]) continue;  // runs of equal values once
      if (shown++ == 6) {
        line += ", ...";
        break;
      }
      if (shown > 1) line += ", ";
      line += "rank " + std::to_string(r) + ": " + (vals[size_t(r)] ? shorten(*vals[size_t(r)]) : "(not set)");
    }
    out.push_back(line + ")");
  }
  if (out.empty()) out.push_back("(the same keys, differently ordered)");
  return out;
}

}  // namespace delayprop::dist
