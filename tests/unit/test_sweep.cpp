// The sweep layer's pure parts: grid expansion, statistics, the CSV and Markdown tables and
// the SLURM script and commands (the processes and SLURM itself: tests/slurm).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.hpp"
#include "sweep/slurm.hpp"
#include "sweep/sweep.hpp"
#include "sweep/tables.hpp"
#include "sweep/util.hpp"

using namespace delayprop;
using namespace delayprop::sweep;

namespace {

Sweep parse(const std::string& text, SweepOverrides over = {}) {
  if (!over.out_dir) over.out_dir = "/tmp/sweeps/t";
  return parse_sweep(text, "/tmp/t.toml", over);
}

std::vector<std::string> names(const std::vector<Run>& runs) {
  std::vector<std::string> out;
  for (const auto& r : runs) out.push_back(r.name);
  return out;
}

}  // namespace

TEST(SweepExpand, GridIsEveryCombinationLastAxisFastestTimesSeeds) {
  const Sweep s = parse(R"(
base = "/cfg/a.toml"
seeds = [1, 2]
set = ["train.epochs=3"]
[grid]
"network.population.1.size" = [5, 10]
"train.batch_size" = [8, 16, 32]
)");
  const auto runs = expand(s);
  ASSERT_EQ(runs.size(), 2u * 3u * 2u);
  EXPECT_EQ(runs[0].name, "pop1.size-5_train.batch_size-8_s1");
  EXPECT_EQ(runs[1].name, "pop1.size-5_train.batch_size-8_s2");
  EXPECT_EQ(runs[2].name, "pop1.size-5_train.batch_size-16_s1");
  EXPECT_EQ(runs[11].name, "pop1.size-10_train.batch_size-32_s2");
  EXPECT_EQ(runs[11].point, "pop1.size-10_train.batch_size-32");
  EXPECT_EQ(runs[11].sets, (std::vector<std::string>{"train.epochs=3", "network.population.1.size=10",
                                                     "train.batch_size=32"}));
  EXPECT_EQ(runs[11].seed, 2);
  EXPECT_EQ(runs[11].dir, "/tmp/sweeps/t/pop1.size-10_train.batch_size-32_s2");
  EXPECT_EQ(runs[11].columns,
            (std::vector<std::pair<std::string, std::string>>{{"pop1.size", "10"}, {"train.batch_size", "32"}}));
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].index, i);
}

TEST(SweepExpand, NamedLevelsListsGroupsAndCommandLineSets) {
  SweepOverrides over;
  over.sets = {"data.path=/d"};
  const Sweep s = parse(R"(
base = "/cfg/a.toml"
[[group]]
label = "yy"
ranks = 2
[group.grid.delays]
on = {}
off = { "network.connection.0.learn_delays" = false }
[[group]]
base = "/cfg/b.toml"
[[group.list]]
label = "small"
"optimizer.lr" = 0.01
[[group.list]]
"train.epochs" = 7
)",
                      over);
  const auto runs = expand(s);
  EXPECT_EQ(names(runs), (std::vector<std::string>{"yy_delays-on_s1", "yy_delays-off_s1", "g1_small_s1",
                                                   "g1_train.epochs-7_s1"}));
  EXPECT_EQ(runs[0].ranks, 2);
  EXPECT_EQ(runs[1].sets, (std::vector<std::string>{"network.connection.0.learn_delays=false", "data.path=/d"}));
  EXPECT_EQ(runs[2].base, "/cfg/b.toml");
  EXPECT_EQ(runs[2].columns, (std::vector<std::pair<std::string, std::string>>{{"group", "g1"}, {"variant", "small"}}));
}

TEST(SweepExpand, LongNamesAreCutAndStayDistinct) {
  const Sweep s = parse(R"(
base = "/cfg/a.toml"
[grid]
"network.connection.0.some_very_long_key_name_that_goes_on_and_on_and_on_and_on_and_on" = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"]
)");
  const auto runs = expand(s);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].point.size(), 96u);
  EXPECT_NE(runs[0].point, runs[1].point);
}

TEST(SweepExpand, BadSweepFilesNameTheKey) {
  auto error_of = [](const std::string& text) {
    try {
      expand(parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("[grid]\n\"train.epochs\" = [1]\n").find("no base config"), std::string::npos);
  EXPECT_NE(error_of("base = \"/a.toml\"\nbogus = 1\n").find("unknown sweep key 'bogus'"), std::string::npos);
  EXPECT_NE(error_of("base = \"/a.toml\"\nseeds = []\n").find("seeds must be a non-empty array"), std::string::npos);
  EXPECT_NE(error_of("base = \"/a.toml\"\n[[list]]\nlabel = \"x\"\n[[list]]\nlabel = \"x\"\n").find("would share the directory"),
            std::string::npos);
}

TEST(SweepExpand, TrainCommandUsesTheLauncherForSeveralRanks) {
  Sweep s = parse("base = \"/cfg/a.toml\"\nranks = 2\nthreads = 3\nmpirun = \"mpirun --oversubscribe\"\n");
  s.train = "/bin/delayprop-train";
  const auto runs = expand(s);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(join_command(train_command(s, runs[0], "mpirun")),
            "mpirun --oversubscribe -np 2 /bin/delayprop-train --config /cfg/a.toml --seed 1 --out /tmp/sweeps/t/run_s1 "
            "--threads 3");
  EXPECT_EQ(join_command(train_command(s, runs[0], "srun")).substr(0, 48),
            "srun -n 2 --mpi=pmix -c 1 --cpu-bind=cores /bin/");
}

TEST(SweepStats, MeanAndSampleStandardDeviation) {
  const Stat st = stat_of({1.0, 2.0, 3.0, 4.0});
  EXPECT_EQ(st.n, 4u);
  EXPECT_DOUBLE_EQ(st.mean, 2.5);
  EXPECT_DOUBLE_EQ(st.sd, std::sqrt(5.0 / 3.0));  // n - 1 in the denominator
  EXPECT_EQ(stat_of({7.0}).sd, 0.0);
  EXPECT_EQ(stat_of({}).n, 0u);
  EXPECT_EQ(format_stat(stat_of({97.0, 98.0})), "97.50 ± 0.71");
  EXPECT_EQ(format_stat(stat_of({1234.4})), "1234");
  EXPECT_EQ(format_stat(stat_of({0.12345})), "0.1235");
}

TEST(SweepTables, CsvAndMarkdown) {
  Results r;
  r.sweep = "demo";
  r.axis_cols = {"hidden"};
  r.metrics = {"test_accuracy", "epochs"};
  auto row = [](std::string name, std::string point, int64_t seed, std::string status, std::string hidden,
                std::map<std::string, double> values) {
    ResultRow x;
    x.name = name, x.point = point, x.seed = seed, x.status = status, x.cols = {{"hidden", hidden}};
    x.values = values;
    return x;
  };
  r.rows = {row("h-5_s1", "h-5", 1, "done", "5", {{"test_accuracy", 0.9}, {"epochs", 10}}),
            row("h-5_s2", "h-5", 2, "done", "5", {{"test_accuracy", 0.8}, {"epochs", 12}}),
            row("h-10_s1", "h-10", 1, "missing", "10", {})};
  const Tables t = make_tables(r);
  EXPECT_EQ(t.results_csv,
            "sweep,run,point,hidden,seed,ranks,status,test_accuracy,epochs\n"
            "demo,h-5_s1,h-5,5,1,1,done,0.9,10\n"
            "demo,h-5_s2,h-5,5,2,1,done,0.8,12\n"
            "demo,h-10_s1,h-10,10,1,1,missing,,\n");
  EXPECT_EQ(t.points_csv,
            "point,hidden,n,runs,test_accuracy_mean,test_accuracy_sd,epochs_mean,epochs_sd\n"
            "h-5,5,2,2,0.85,0.07071067812,11,1.414213562\n"
            "h-10,10,0,1,,,,\n");
  EXPECT_EQ(t.markdown,
            "# Sweep demo\n\n2 of 3 runs done. Mean ± SD over seeds (sample SD); n = runs done.\n\n"
            "| hidden | n | test_accuracy (%) | epochs |\n|---|---|---|---|\n"
            "| 5 | 2 | 85.00 ± 7.07 | 11.00 ± 1.41 |\n"
            "| 10 | 0/1 | — | — |\n\n"
            "Not done: h-10_s1 (missing);\n");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("plain"), "plain");
}

TEST(SweepSlurm, ScriptAndSubmitCommands) {
  Sweep s = parse(R"(
name = "demo"
base = "/cfg/a.toml"
[slurm]
partition = "gpu"
time = "01:00:00"
cpus_per_task = 4
extra = ["--gres=gpu:1", "#SBATCH --exclusive"]
setup = ["module load mpi"]
)");
  const std::string dirs = sbatch_directives(s, "/work");
  EXPECT_EQ(dirs,
            "#SBATCH --job-name=demo\n#SBATCH --output=/tmp/sweeps/t/slurm/%A_%a.out\n#SBATCH --ntasks=1\n"
            "#SBATCH --cpus-per-task=4\n#SBATCH --chdir=/work\n#SBATCH --signal=B:USR1@120\n#SBATCH --requeue\n"
            "#SBATCH --partition=gpu\n#SBATCH --time=01:00:00\n#SBATCH --gres=gpu:1\n#SBATCH --exclusive\n");
  const std::string script = sbatch_script("#!/bin/bash\n@SBATCH@@SETUP@@SWEEP_BIN@ run @MANIFEST@ # @SWEEP_NAME@\n", s,
                                           "/work", "/opt/bin/delayprop-sweep", "/tmp/m f.json");
  EXPECT_EQ(script, "#!/bin/bash\n" + dirs + "module load mpi\n/opt/bin/delayprop-sweep run '/tmp/m f.json' # demo\n");
  const auto cmds = submit_commands({{1, {0, 1, 2, 5}}, {2, {3}}}, 4, "/tmp/s.sbatch");
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(join_command(cmds[0]), "sbatch --parsable --array=0-2,5%4 /tmp/s.sbatch");
  EXPECT_EQ(join_command(cmds[1]), "sbatch --parsable --array=3%4 --ntasks=2 /tmp/s.sbatch");
  EXPECT_EQ(submit_script("demo", cmds),
            "#!/bin/sh\n# Submits the runs of sweep demo that are not done yet.\nset -e\n" + join_command(cmds[0]) +
                "\n" + join_command(cmds[1]) + "\n");
  EXPECT_EQ(index_ranges({0, 1, 2, 5, 7, 8, 9}), "0-2,5,7-9");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}
