#include "sweep/tables.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "sweep/util.hpp"

namespace delayprop::sweep {

using json = nlohmann::json;

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

std::string format_stat(const Stat& st) {
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

Results read_results(const json& manifest, const std::string& default_name) {
  Results res;
  res.sweep = manifest.value("sweep", default_name);
  // Columns that describe a run, in the order they first appear.
  std::vector<std::string>& axis_cols = res.axis_cols;
  for (const auto& r : manifest.at("runs"))
    for (const auto& c : r.at("columns")) {
      const std::string name = c.at(0).get<std::string>();
      if (std::find(axis_cols.begin(), axis_cols.end(), name) == axis_cols.end()) axis_cols.push_back(name);
    }
  // Metrics: the summary keys delayprop-train writes, then any other numeric key found.
  std::vector<std::string> metrics = {"test_accuracy", "valid_accuracy", "train_accuracy", "loss",
                                      "presentations_to_100", "best_epoch", "epochs", "wall_time_s",
                                      "samples_per_s", "peak_memory_mb"};

  for (const auto& r : manifest.at("runs")) {
    ResultRow row;
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
      } catch (const std::exception&) {
        row.status = "unreadable";
      }
    } else {
      row.status = fs::exists(rdir / "checkpoint.h5") ? "incomplete" : "missing";
    }
    res.rows.push_back(std::move(row));
  }
  // Keep only metrics some run has.
  for (const auto& k : metrics)
    if (std::any_of(res.rows.begin(), res.rows.end(), [&](const ResultRow& r) { return r.values.count(k) > 0; }))
      res.metrics.push_back(k);
  return res;
}

Tables make_tables(const Results& res) {
  const std::vector<std::string>& axis_cols = res.axis_cols;
  const std::vector<std::string>& present = res.metrics;
  const std::vector<ResultRow>& rows = res.rows;
  const std::string& sweep = res.sweep;
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

  // Per grid point: mean and SD over the seeds of the runs that are done.
  std::vector<std::string> points;
  std::map<std::string, std::vector<const ResultRow*>> by_point;
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
    for (const ResultRow* r : rs) n += r->status == "done";
    for (const auto& k : present) {
      std::vector<double> v;
      for (const ResultRow* r : rs)
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
      md << " " << (shown_st.n ? format_stat(shown_st) : "—") << " |";
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
  return {csv.str(), pcsv.str(), md.str()};
}

}  // namespace delayprop::sweep
