// `utter bench`: run as a user would on a small reference model, with good and bad options.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/run_utter.h"

namespace {

using utter::testing::RunResult;
using utter::testing::run_utter;
using utter::testing::shell_quote;

const std::string kModel = std::string(UTTER_TESTDATA_DIR) + "/reference/tiny-q4_0.gguf";

TEST(BenchCommand, JsonReportHasEveryFigure) {
  const RunResult run = run_utter("bench -m " + shell_quote(kModel) + " -t 1 -p 4,9 -n 3 -r 2 --json");
  ASSERT_EQ(run.status, 0) << run.err;
  const nlohmann::json report = nlohmann::json::parse(run.out);

  EXPECT_EQ(report.at("threads").get<int>(), 1);
  EXPECT_EQ(report.at("file_bytes").get<uint64_t>(), std::filesystem::file_size(kModel));
  ASSERT_EQ(report.at("prompt").size(), 2u);
  EXPECT_EQ(report.at("prompt")[0].at("tokens").get<int>(), 4);
  EXPECT_EQ(report.at("prompt")[1].at("tokens").get<int>(), 9);
  for (const auto& prompt : report.at("prompt")) {
    EXPECT_GT(prompt.at("tokens_per_s").get<double>(), 0.0);
    EXPECT_LE(prompt.at("min").get<double>(), prompt.at("tokens_per_s").get<double>());
    EXPECT_GE(prompt.at("max").get<double>(), prompt.at("tokens_per_s").get<double>());
  }
  const auto& generation = report.at("generation");
  EXPECT_EQ(generation.at("tokens").get<int>(), 3);
  EXPECT_GT(generation.at("tokens_per_s").get<double>(), 0.0);
  // Generation reads part of the file per token: at least the output head, never more than all.
  EXPECT_GT(generation.at("bytes_per_token").get<double>(), 0.0);
  EXPECT_LE(generation.at("bytes_per_token").get<double>(), static_cast<double>(std::filesystem::file_size(kModel)));

  EXPECT_GT(report.at("read_bandwidth_gb_s").get<double>(), 0.1);
  EXPECT_GT(report.at("int8_peak_gop_s").get<double>(), 0.1);
  // The mapped file is not necessarily resident, but the process is at least a few MiB.
  EXPECT_GT(report.at("peak_rss_bytes").get<double>(), 1e6);
}

TEST(BenchCommand, TableNamesEachTest) {
  const RunResult run = run_utter("bench -m " + shell_quote(kModel) + " -t 1 -p 5 -n 2 -r 1");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("pp5"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("tg2"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("peak RSS"), std::string::npos) << run.out;
}

TEST(BenchCommand, RejectsBadPromptSizes) {
  const RunResult run = run_utter("bench -m " + shell_quote(kModel) + " -p 64,abc -n 1 -r 1");
  EXPECT_NE(run.status, 0);
  EXPECT_NE(run.err.find("'abc'"), std::string::npos) << run.err;

  const RunResult zero = run_utter("bench -m " + shell_quote(kModel) + " -p 0 -n 1 -r 1");
  EXPECT_NE(zero.status, 0);
  EXPECT_NE(zero.err.find("'0'"), std::string::npos) << zero.err;
}

}  // namespace
