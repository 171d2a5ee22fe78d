// Reads doubles (one per line, as Python's repr writes them), sums them exactly with
// ExactVector in several orders and splits, checks that every way gives the same bits, and
// prints the sum and the plain float64 left-to-right sum as hex floats:
//   exact 0x1.8p+0
//   naive 0x1.8000000000001p+0
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/exact_sum.hpp"

using namespace delayprop;

int main() {
  std::vector<double> xs;
  for (std::string line; std::getline(std::cin, line);)
    if (!line.empty()) xs.push_back(std::stod(line));
  // The short path of exact_add must give the digits of the general one.
  for (double x : xs) {
    int64_t fast[ExactSum::kDigits] = {}, general[ExactSum::kDigits] = {};
    const bool a = exact_add(fast, x), b = exact_add_general(general, x);
    if (a != b || !std::equal(fast, fast + ExactSum::kDigits, general)) {
      std::printf("exact_add and exact_add_general disagree on %a\n", x);
      return 1;
    }
  }
  std::mt19937_64 rng(7);
  double first = 0;
  for (int trial = 0; trial < 8; ++trial) {
    std::vector<double> v = xs;
    if (trial > 0) std::shuffle(v.begin(), v.end(), rng);
    // Split the terms over `parts` partial sums (like ranks), then add the partials.
    const size_t parts = 1 + trial % 4;
    std::vector<ExactVector> partial(parts, ExactVector(1));
    for (size_t k = 0; k < v.size(); ++k)
      if (!partial[k * parts / v.size()].add(0, v[k])) {
        std::cerr << "term " << v[k] << " is out of range\n";
        return 2;
      }
    for (size_t p = parts; p-- > 1;) partial[0].add(partial[p]);
    double out = 0;
    if (partial[0].round_to(std::span<double>(&out, 1)) != 1) {
      std::cerr << "sum out of range\n";
      return 2;
    }
    if (trial == 0) first = out;
    if (std::memcmp(&out, &first, sizeof out) != 0) {
      std::printf("order-dependent: %a vs %a\n", out, first);
      return 1;
    }
  }
  double naive = 0;
  for (double x : xs) naive += x;
  std::printf("exact %a\nnaive %a\n", first, naive);
  return 0;
}
