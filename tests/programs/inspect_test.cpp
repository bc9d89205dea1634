// `utter inspect`: run as a user would, on the reference models and on damaged files.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>

#include "inference/gguf_expectations.h"
#include "utter/inference/gguf.h"

#include "support/run_utter.h"

namespace {

using gguf_expectations::ExpectedModel;

using utter::testing::RunResult;
using utter::testing::run_utter;
using utter::testing::shell_quote;

TEST(Inspect, JsonListsExactlyTheExpectedTensors) {
  const auto models = gguf_expectations::reference_models();
  ASSERT_EQ(models.size(), 10u);
  for (const ExpectedModel& model : models) {
    SCOPED_TRACE(model.path.string());
    const RunResult run = run_utter("inspect --json " + shell_quote(model.path.string()));
    ASSERT_EQ(run.status, 0) << run.err;
    const auto document = nlohmann::json::parse(run.out);

    const auto& tensors = document.at("tensors");
    ASSERT_EQ(tensors.size(), model.tensors.size());
    std::set<std::string> seen;
    for (const auto& tensor : tensors) {
      const std::string name = tensor.at("name");
      seen.insert(name);
      ASSERT_EQ(model.tensors.count(name), 1u) << name;
      const auto& expected = model.tensors.at(name);
      EXPECT_EQ(tensor.at("type"), expected.type) << name;
      EXPECT_EQ(tensor.at("shape").get<std::vector<uint64_t>>(), expected.shape) << name;
      EXPECT_EQ(tensor.at("elements"), gguf_expectations::element_count(expected.shape)) << name;
    }
    EXPECT_EQ(seen.size(), model.tensors.size());

    const auto& summary = document.at("summary");
    EXPECT_EQ(summary.at("file_size"), model.bytes);
    EXPECT_EQ(summary.at("version"), 3);
    EXPECT_EQ(summary.at("alignment"), 32);
    EXPECT_EQ(summary.at("tensor_count"), model.tensors.size());
    std::map<std::string, uint64_t> expected_counts;
    uint64_t expected_parameters = 0;
    for (const auto& [name, tensor] : model.tensors) {
      ++expected_counts[tensor.type];
      expected_parameters += gguf_expectations::element_count(tensor.shape);
    }
    EXPECT_EQ(summary.at("parameter_count"), expected_parameters);
    for (const auto& [type, count] : expected_counts) {
      EXPECT_EQ(summary.at("types").at(type).at("tensors"), count) << type;
    }
    EXPECT_EQ(summary.at("types").size(), expected_counts.size());

    std::map<std::string, nlohmann::json> keys;
    for (const auto& entry : document.at("metadata")) keys[entry.at("key")] = entry;
    EXPECT_EQ(keys.size(), document.at("metadata").size());
    EXPECT_EQ(summary.at("metadata_count"), keys.size());
    if (model.is_projector) {
      EXPECT_EQ(summary.at("architecture"), "clip");
      EXPECT_EQ(keys.at("clip.audio.projector_type").at("value"), "gemma4ua");
      continue;
    }
    const auto& h = model.hyper;
    EXPECT_EQ(summary.at("architecture"), "gemma4");
    EXPECT_EQ(keys.at("gemma4.block_count").at("value"), h.sliding.size());
    EXPECT_EQ(keys.at("gemma4.embedding_length").at("value"), h.n_embd);
    std::vector<int64_t> kv;
    for (bool sliding : h.sliding) kv.push_back(static_cast<int64_t>(sliding ? h.n_head_kv_swa : h.n_head_kv_full));
    EXPECT_EQ(keys.at("gemma4.attention.head_count_kv").at("value").get<std::vector<int64_t>>(), kv);
    EXPECT_EQ(keys.at("gemma4.attention.head_count_kv").at("element_type"), "i32");
    EXPECT_EQ(keys.at("gemma4.attention.sliding_window_pattern").at("value").get<std::vector<bool>>(),
              h.sliding);
    const auto& tokens = keys.at("tokenizer.ggml.tokens");
    EXPECT_EQ(tokens.at("count"), h.n_vocab);
    EXPECT_TRUE(tokens.at("truncated").get<bool>());
    EXPECT_EQ(tokens.at("value").size(), 8u);
    EXPECT_EQ(tokens.at("value").at(2), "<bos>");
  }
}

std::filesystem::path kquant_file() {
  return gguf_expectations::testdata_dir() / "reference-kquant" / "kquant-q6_k.gguf";
}

TEST(Inspect, TextAbbreviatesLongArrays) {
  const RunResult run = run_utter("inspect " + shell_quote(kquant_file().string()));
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("tokenizer.ggml.tokens [string; 1024] = [\"<pad>\", \"<eos>\", \"<bos>\""),
            std::string::npos);
  EXPECT_NE(run.out.find(" ...] (1024 entries)"), std::string::npos);
  EXPECT_NE(run.out.find("gemma4.attention.head_count_kv [i32; 5] = [2, 2, 1, 2, 1]"),
            std::string::npos);
  EXPECT_NE(run.out.find("Tensors (71):"), std::string::npos);
  EXPECT_NE(run.out.find("Q6_K     34 tensors"), std::string::npos);
  EXPECT_NE(run.out.find("file size: 2859808 bytes"), std::string::npos);
}

TEST(Inspect, AllPrintsWholeArrays) {
  const RunResult run = run_utter("inspect --json --all " + shell_quote(kquant_file().string()));
  ASSERT_EQ(run.status, 0) << run.err;
  const auto document = nlohmann::json::parse(run.out);
  for (const auto& entry : document.at("metadata")) {
    if (entry.at("key") == "tokenizer.ggml.tokens") {
      EXPECT_EQ(entry.at("value").size(), 1024u);
      EXPECT_FALSE(entry.at("truncated").get<bool>());
      EXPECT_EQ(entry.at("value").at(1023), "<|video|>");
    }
  }
}

TEST(Inspect, DamagedFileGivesOneLineError) {
  const auto source = gguf_expectations::testdata_dir() / "reference" / "tiny-mmproj-f32.gguf";
  std::ifstream in(source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const auto cut = std::filesystem::temp_directory_path() / ("inspect_cut_" + std::to_string(getpid()) + ".gguf");
  std::ofstream(cut, std::ios::binary).write(bytes.data(), 1000);

  const RunResult run = run_utter("inspect " + shell_quote(cut.string()));
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.err.rfind("utter: error: " + cut.string() + ": byte ", 0), 0u) << run.err;
  EXPECT_NE(run.err.find("runs past the end of the file (1000 bytes)"), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  std::filesystem::remove(cut);

  const RunResult missing = run_utter("inspect /nonexistent/model.gguf");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf: cannot open"), std::string::npos) << missing.err;
}

TEST(Inspect, HostileStringsAreEscaped) {
  using namespace utter::inference;
  const auto path = std::filesystem::temp_directory_path() /
                    ("inspect_hostile_" + std::to_string(getpid()) + ".gguf");
  {
    GgufWriter writer(path);
    writer.add_metadata("evil\x1b[2Jkey", gguf_make_string("bad \xff\xfe utf8 \x1b]0;title\x07"));
    writer.add_metadata("fine", gguf_make_string("gr\xc3\xbc\xc3\x9f dich"));
    writer.add_tensor_info("w\nx", TensorType::F32, {1});
    writer.write_header();
    const float one = 1.0f;
    writer.write_tensor_data(std::as_bytes(std::span(&one, 1)));
    writer.finish();
  }
  const RunResult text = run_utter("inspect " + shell_quote(path.string()));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.out.find('\x07'), std::string::npos);
  EXPECT_NE(text.out.find("\"evil\\x1b[2Jkey\""), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\"bad \\xff\\xfe utf8 \\x1b]0;title\\x07\""), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\"gr\xc3\xbc\xc3\x9f dich\""), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\"w\\nx\""), std::string::npos) << text.out;

  const RunResult json = run_utter("inspect --json " + shell_quote(path.string()));
  ASSERT_EQ(json.status, 0) << json.err;
  const auto document = nlohmann::json::parse(json.out);
  EXPECT_EQ(document.at("metadata").at(0).at("value"), "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \x1b]0;title\x07");
  EXPECT_EQ(document.at("metadata").at(1).at("value"), "gr\xc3\xbc\xc3\x9f dich");
  EXPECT_EQ(document.at("tensors").at(0).at("name"), "w\nx");
  std::filesystem::remove(path);
}

// A command-line mistake is a usage error: status 2, one "utter: error:" line naming the
// problem, and where to find the options.
TEST(CommandLine, UnknownOptionIsAUsageError) {
  const RunResult result = run_utter("inspect --no-such-option x.gguf");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("utter: error:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--no-such-option"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("utter inspect --help"), std::string::npos) << result.err;
}

TEST(CommandLine, HelpStillSucceeds) {
  const RunResult result = run_utter("inspect --help");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.out.find("inspect"), std::string::npos);
}

}  // namespace
