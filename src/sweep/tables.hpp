#pragma once
// A sweep's results: the runs' summaries gathered, then one CSV row per run (results.csv),
// mean and SD over the seeds of each grid point (points.csv) and a Markdown table of the
// headline metrics (results.md).
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace delayprop::sweep {

struct Stat {
  size_t n = 0;
  double mean = 0, sd = 0;  // sd: the sample SD (n - 1), 0 for n < 2
};
Stat stat_of(const std::vector<double>& v);
// Mean (and " ± SD" when n > 1) with as many decimals as the size of the mean calls for.
std::string format_stat(const Stat& st);
// A CSV field, quoted when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);

struct ResultRow {
  std::string name, point, status;  // status: the summary's, or incomplete | missing | unreadable
  int64_t seed = 0;
  int ranks = 1;
  std::map<std::string, std::string> cols;  // axis column -> level
  std::map<std::string, double> values;     // metric -> value
};

struct Results {
  std::string sweep;
  std::vector<std::string> axis_cols;  // in the order they first appear
  std::vector<std::string> metrics;    // those some run has: the trainer's first, then others found
  std::vector<ResultRow> rows;         // in manifest order
};

// Reads the manifest's runs and each run's summary.json.
Results read_results(const nlohmann::json& manifest, const std::string& default_name);

struct Tables {
  std::string results_csv, points_csv, markdown;
};
Tables make_tables(const Results& r);

}  // namespace delayprop::sweep
