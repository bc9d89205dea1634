// Runs `utter models` (pull, verify, use, list) and `utter demo` as a user would: downloads
// come from a local HTTP server on 127.0.0.1 started by the test, model files from the
// reference models, and every setting and model folder lives in a temporary folder.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "programs/local_http_server.h"
#include "utter/inference/gguf.h"

namespace {

namespace fs = std::filesystem;
using utter::testing::LocalHttpServer;
using Files = std::map<std::string, std::string>;

// Normalised, because the program stores the absolute paths it is given without "..".
const fs::path kTestdata = fs::weakly_canonical(UTTER_TESTDATA_DIR);
const fs::path kTinyModel = kTestdata / "reference" / "tiny-q4_0.gguf";
const fs::path kTinyMmproj = kTestdata / "reference" / "tiny-mmproj-f32.gguf";
const fs::path kKquantModel = kTestdata / "reference-kquant" / "kquant-q4_k_m.gguf";

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) result.output += buffer;
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return result;
}

// SHA-256 computed by coreutils, independent of the code under test.
std::string sha256sum(const fs::path& path) {
  const CommandResult result = run_shell("sha256sum " + shell_quote(path.string()));
  return result.output.substr(0, 64);
}

// A port that refuses connections: bound once to find a free number, then closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ModelsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device seed;
    root_ = fs::temp_directory_path() / ("utter-models-test-" + std::to_string(seed()));
    fs::create_directories(models_dir());
    fs::create_directories(root_ / "config");
    fs::create_directories(root_ / "work");
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path models_dir() const { return root_ / "models"; }
  fs::path work_dir() const { return root_ / "work"; }
  fs::path settings_file() const { return root_ / "config" / "utter" / "settings.json"; }

  // Runs utter with a private models folder and settings file, no proxy and no token.
  CommandResult utter(const std::string& arguments, const std::string& extra_environment = "") const {
    std::string environment =
        "env -u UTTER_MODEL -u UTTER_MMPROJ -u HF_TOKEN -u UTTER_HF_TOKEN -u http_proxy -u https_proxy "
        "-u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy no_proxy='*' UTTER_MODELS_DIR=" +
        shell_quote(models_dir().string()) + " XDG_CONFIG_HOME=" + shell_quote((root_ / "config").string()) + " " +
        extra_environment;
    return run_shell(environment + " " + shell_quote(UTTER_BINARY) + " " + arguments);
  }

  // Writes a catalogue naming files on `server` and returns the environment that selects it.
  std::string catalogue_environment(const LocalHttpServer& server, const std::string& entries_json) const {
    const fs::path assets = root_ / "assets";
    fs::create_directories(assets);
    const std::string catalogue = "{\"base_url\": \"" + server.url("") + "\", \"default\": \"test-pair\", "
                                  "\"models\": [" + entries_json + "]}";
    write_file(assets / "models.json", catalogue);
    return "UTTER_ASSETS_DIR=" + shell_quote(assets.string());
  }

  fs::path root_;
};

// ---- pull ------------------------------------------------------------------------------------

TEST_F(ModelsCommandTest, PullDownloadsWholeFile) {
  const std::string body = read_file(kKquantModel);
  LocalHttpServer server(Files{{"/files/model.gguf", body}});
  const std::string sha = sha256sum(kKquantModel);

  const CommandResult result = utter("models pull --url " + server.url("/files/model.gguf") + " --sha256 " + sha);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "SHA-256 verified")) << result.output;
  EXPECT_EQ(read_file(models_dir() / "model.gguf"), body);
  EXPECT_FALSE(fs::exists(models_dir() / "model.gguf.part"));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].range, "");
}

TEST_F(ModelsCommandTest, PullResumesAfterDroppedConnection) {
  const std::string body = read_file(kKquantModel);
  LocalHttpServer server(Files{{"/model.gguf", body}});
  server.drop_next_replies_halfway(1);
  const std::string sha = sha256sum(kKquantModel);

  const CommandResult result = utter("models pull --retries 2 --url " + server.url("/model.gguf") + " --sha256 " + sha);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "resuming at byte " + std::to_string(body.size() / 2))) << result.output;
  EXPECT_EQ(sha256sum(models_dir() / "model.gguf"), sha);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].range, "bytes=" + std::to_string(body.size() / 2) + "-");
}

TEST_F(ModelsCommandTest, PullInterruptedKeepsPartAndResumesOnRerun) {
  const std::string body = read_file(kKquantModel);
  LocalHttpServer server(Files{{"/model.gguf", body}});
  server.drop_next_replies_halfway(1);
  const std::string sha = sha256sum(kKquantModel);
  const std::string command = "models pull --retries 0 --url " + server.url("/model.gguf") + " --sha256 " + sha;

  const CommandResult first = utter(command);
  EXPECT_EQ(first.exit_code, 1) << first.output;
  EXPECT_TRUE(contains(first.output, "interrupted")) << first.output;
  EXPECT_TRUE(contains(first.output, "run the same command again to resume")) << first.output;
  EXPECT_FALSE(fs::exists(models_dir() / "model.gguf"));
  ASSERT_TRUE(fs::exists(models_dir() / "model.gguf.part"));
  EXPECT_EQ(fs::file_size(models_dir() / "model.gguf.part"), body.size() / 2);

  const CommandResult second = utter(command);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(sha256sum(models_dir() / "model.gguf"), sha);
  EXPECT_EQ(server.requests().back().range, "bytes=" + std::to_string(body.size() / 2) + "-");
}

TEST_F(ModelsCommandTest, PullRejectsCorruptedByte) {
  std::string body = read_file(kKquantModel);
  const std::string sha = sha256sum(kKquantModel);
  body[body.size() / 3] ^= 0x01;
  LocalHttpServer server(Files{{"/model.gguf", body}});

  const CommandResult result = utter("models pull --url " + server.url("/model.gguf") + " --sha256 " + sha);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "checksum mismatch")) << result.output;
  EXPECT_TRUE(contains(result.output, "expected " + sha)) << result.output;
  EXPECT_FALSE(fs::exists(models_dir() / "model.gguf"));
  EXPECT_FALSE(fs::exists(models_dir() / "model.gguf.part"));
}

TEST_F(ModelsCommandTest, PullWithoutRangeSupportRestartsFromZero) {
  const std::string body = read_file(kKquantModel);
  LocalHttpServer server(Files{{"/model.gguf", body}});
  server.set_range_support(false);
  server.drop_next_replies_halfway(1);
  const std::string sha = sha256sum(kKquantModel);

  const CommandResult result = utter("models pull --retries 1 --url " + server.url("/model.gguf") + " --sha256 " + sha);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "started again from zero")) << result.output;
  EXPECT_EQ(sha256sum(models_dir() / "model.gguf"), sha);
  EXPECT_EQ(fs::file_size(models_dir() / "model.gguf"), body.size());
}

TEST_F(ModelsCommandTest, PullKeepsTokenFromOtherHosts) {
  const std::string body = read_file(kKquantModel);
  LocalHttpServer server(Files{{"/model.gguf", body}});
  const CommandResult result =
      utter("models pull --url " + server.url("/model.gguf"), "HF_TOKEN=secret-token UTTER_HF_TOKEN=secret-token");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].authorization, "");
}

TEST_F(ModelsCommandTest, PullReportsNotFound) {
  LocalHttpServer server(Files{{"/model.gguf", "x"}});
  const CommandResult result = utter("models pull --url " + server.url("/missing.gguf"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "HTTP 404")) << result.output;
  EXPECT_TRUE(contains(result.output, "not found")) << result.output;
  EXPECT_FALSE(fs::exists(models_dir() / "missing.gguf"));
  EXPECT_FALSE(fs::exists(models_dir() / "missing.gguf.part"));
}

TEST_F(ModelsCommandTest, PullReportsRefusedConnection) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/model.gguf";
  const CommandResult result = utter("models pull --url " + url);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "cannot connect to 127.0.0.1")) << result.output;
  EXPECT_TRUE(contains(result.output, "network")) << result.output;
}

TEST_F(ModelsCommandTest, PullWithoutHashPrintsComputedHash) {
  const std::string body = read_file(kKquantModel);
  LocalHttpServer server(Files{{"/model.gguf", body}});
  const CommandResult result = utter("models pull --url " + server.url("/model.gguf"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "could not be verified")) << result.output;
  EXPECT_TRUE(contains(result.output, sha256sum(kKquantModel))) << result.output;
}

TEST_F(ModelsCommandTest, PullCatalogueEntrySetsDefault) {
  const std::string model_path = "/test/tiny/resolve/abc123/tiny-q4_0.gguf";
  const std::string mmproj_path = "/test/tiny/resolve/abc123/mmproj-tiny.gguf";
  LocalHttpServer server(Files{{model_path, read_file(kTinyModel)}, {mmproj_path, read_file(kTinyMmproj)}});
  const std::string entry =
      "{\"name\": \"test-pair\", \"description\": \"tiny\", \"quantization\": \"Q4_0\","
      " \"model\": {\"repository\": \"test/tiny\", \"revision\": \"abc123\", \"file\": \"tiny-q4_0.gguf\", \"size\": " +
      std::to_string(fs::file_size(kTinyModel)) + ", \"sha256\": \"" + sha256sum(kTinyModel) + "\"},"
      " \"mmproj\": {\"repository\": \"test/tiny\", \"revision\": \"abc123\", \"file\": \"mmproj-tiny.gguf\","
      " \"size\": null, \"sha256\": null}}";
  const std::string environment = catalogue_environment(server, entry);

  const CommandResult pulled = utter("models pull", environment);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  EXPECT_TRUE(contains(pulled.output, "SHA-256 verified: " + sha256sum(kTinyModel))) << pulled.output;
  EXPECT_TRUE(contains(pulled.output, "computed SHA-256: " + sha256sum(kTinyMmproj))) << pulled.output;
  EXPECT_EQ(read_file(models_dir() / "mmproj-tiny.gguf"), read_file(kTinyMmproj));

  const nlohmann::json settings = nlohmann::json::parse(read_file(settings_file()));
  EXPECT_EQ(settings["model"], (models_dir() / "tiny-q4_0.gguf").string());
  EXPECT_EQ(settings["mmproj"], (models_dir() / "mmproj-tiny.gguf").string());

  const CommandResult listed = utter("models list", environment);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_TRUE(contains(listed.output, "* " + (models_dir() / "tiny-q4_0.gguf").string())) << listed.output;
  EXPECT_TRUE(contains(listed.output, "remembered in the settings file")) << listed.output;
  EXPECT_TRUE(contains(listed.output, "architecture gemma4, quantization Q4_0")) << listed.output;
  EXPECT_TRUE(contains(listed.output, "matches (gemma4ua, hidden size 64)")) << listed.output;
}

TEST_F(ModelsCommandTest, PullChecksFreeSpaceBeforeStarting) {
  LocalHttpServer server(Files{{"/test/big/resolve/main/big.gguf", "x"}, {"/test/big/resolve/main/mmproj-big.gguf", "x"}});
  const std::string entry =
      "{\"name\": \"test-pair\", \"model\": {\"repository\": \"test/big\", \"revision\": \"main\", \"file\": "
      "\"big.gguf\", \"size\": 900000000000000000, \"sha256\": null}, \"mmproj\": {\"repository\": \"test/big\", "
      "\"revision\": \"main\", \"file\": \"mmproj-big.gguf\", \"size\": 1, \"sha256\": null}}";
  const CommandResult result = utter("models pull test-pair", catalogue_environment(server, entry));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "not enough free disk space")) << result.output;
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ModelsCommandTest, PullRejectsUnknownName) {
  const CommandResult result = utter("models pull no-such-model");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "'no-such-model' is not a model in the catalogue")) << result.output;
  EXPECT_TRUE(contains(result.output, "gemma-4-12b-qat-q4_0")) << result.output;
}

// ---- verify ----------------------------------------------------------------------------------

TEST_F(ModelsCommandTest, VerifyAcceptsReferenceModels) {
  for (const char* name : {"tiny-f32.gguf", "tiny-q8_0.gguf", "tiny-q4_0.gguf", "tiny-q4_k_m.gguf"}) {
    const CommandResult result = utter("models verify " + shell_quote((kTestdata / "reference" / name).string()));
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.output;
    EXPECT_TRUE(contains(result.output, "verdict: ok")) << name << ": " << result.output;
    EXPECT_TRUE(contains(result.output, "tiny-mmproj-f32.gguf matches")) << name << ": " << result.output;
  }
  const CommandResult projector = utter("models verify " + shell_quote(kTinyMmproj.string()));
  EXPECT_EQ(projector.exit_code, 0) << projector.output;
  EXPECT_TRUE(contains(projector.output, "audio projector gemma4ua, 64 values per frame")) << projector.output;
}

TEST_F(ModelsCommandTest, VerifyWarnsAboutTextOnlyModel) {
  const CommandResult result = utter("models verify " + shell_quote(kKquantModel.string()));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "quantization Q4_K_M")) << result.output;
  EXPECT_TRUE(contains(result.output, "no audio projector (mmproj) found")) << result.output;
}

TEST_F(ModelsCommandTest, VerifyRejectsMismatchedProjector) {
  const CommandResult result = utter("models verify " + shell_quote(kKquantModel.string()) + " --mmproj " +
                                     shell_quote(kTinyMmproj.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "hidden size is 256")) << result.output;
  EXPECT_TRUE(contains(result.output, "not a pair")) << result.output;
}

TEST_F(ModelsCommandTest, VerifyDetectsTruncatedCopies) {
  const std::string body = read_file(kKquantModel);
  for (size_t keep : {body.size() / 2, body.size() - 1, size_t{100}}) {
    const fs::path copy = work_dir() / "truncated.gguf";
    write_file(copy, body.substr(0, keep));
    const CommandResult result = utter("models verify " + shell_quote(copy.string()));
    EXPECT_EQ(result.exit_code, 1) << keep << ": " << result.output;
    EXPECT_TRUE(contains(result.output, "verdict: truncated")) << keep << ": " << result.output;
    EXPECT_TRUE(contains(result.output, "interrupted download")) << keep << ": " << result.output;
  }
}

TEST_F(ModelsCommandTest, VerifyNamesOtherFamilies) {
  for (const char* architecture : {"llama", "gemma3"}) {
    const fs::path path = work_dir() / (std::string(architecture) + ".gguf");
    utter::inference::GgufWriter writer(path);
    writer.add_metadata("general.architecture", utter::inference::gguf_make_string(architecture));
    writer.add_tensor_info("token_embd.weight", utter::inference::TensorType::F32, {4, 2});
    writer.write_header();
    const std::vector<float> values(8, 0.5f);
    writer.write_tensor_data(std::as_bytes(std::span(values)));
    writer.finish();

    const CommandResult result = utter("models verify " + shell_quote(path.string()));
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_TRUE(contains(result.output, std::string("general.architecture is '") + architecture + "'")) << result.output;
    if (std::string(architecture) == "gemma3") {
      EXPECT_TRUE(contains(result.output, "verdict: a Gemma 3 model")) << result.output;
      EXPECT_TRUE(contains(result.output, "utter needs a Gemma 4 model")) << result.output;
    } else {
      EXPECT_TRUE(contains(result.output, "verdict: another model family")) << result.output;
      EXPECT_TRUE(contains(result.output, "not 'llama' models")) << result.output;
    }
  }
}

TEST_F(ModelsCommandTest, VerifyNamesSmallerGemma4Variant) {
  // A Gemma 4 E2B/E4B-style header: per-layer input embeddings, which the 12B model has not.
  const fs::path path = work_dir() / "gemma4-e2b.gguf";
  utter::inference::GgufWriter writer(path);
  writer.add_metadata("general.architecture", utter::inference::gguf_make_string("gemma4"));
  writer.add_metadata("gemma4.block_count", utter::inference::gguf_make_u32(1));
  writer.add_metadata("gemma4.embedding_length", utter::inference::gguf_make_u32(8));
  writer.add_metadata("gemma4.attention.sliding_window", utter::inference::gguf_make_u32(4));
  writer.add_metadata("gemma4.attention.layer_norm_rms_epsilon", utter::inference::gguf_make_f32(1e-6f));
  writer.add_metadata("gemma4.embedding_length_per_layer_input", utter::inference::gguf_make_u32(256));
  writer.add_tensor_info("token_embd.weight", utter::inference::TensorType::F32, {8, 2});
  writer.write_header();
  const std::vector<float> values(16, 0.25f);
  writer.write_tensor_data(std::as_bytes(std::span(values)));
  writer.finish();

  const CommandResult result = utter("models verify " + shell_quote(path.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "verdict: an unsupported Gemma 4 size")) << result.output;
  EXPECT_TRUE(contains(result.output, "per-layer input embeddings")) << result.output;
}

TEST_F(ModelsCommandTest, VerifyRejectsNonGgufFile) {
  const fs::path path = work_dir() / "notes.gguf";
  write_file(path, "these are not model weights, just text of some length");
  const CommandResult result = utter("models verify " + shell_quote(path.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "verdict: not a valid GGUF file")) << result.output;
}

TEST_F(ModelsCommandTest, VerifyChecksGivenHash) {
  const std::string good = sha256sum(kTinyMmproj);
  const CommandResult matching = utter("models verify " + shell_quote(kTinyMmproj.string()) + " --sha256 " + good);
  EXPECT_EQ(matching.exit_code, 0) << matching.output;
  EXPECT_TRUE(contains(matching.output, "SHA-256 matches the published value " + good)) << matching.output;

  const std::string wrong(64, 'a');
  const CommandResult mismatching = utter("models verify " + shell_quote(kTinyMmproj.string()) + " --sha256 " + wrong);
  EXPECT_EQ(mismatching.exit_code, 1) << mismatching.output;
  EXPECT_TRUE(contains(mismatching.output, "SHA-256 is " + good + ", expected " + wrong)) << mismatching.output;
}

// ---- use, list, settings -----------------------------------------------------------------------

TEST_F(ModelsCommandTest, UseRemembersPairAndKeepsOtherSettings) {
  fs::create_directories(settings_file().parent_path());
  write_file(settings_file(), R"({"language": "de", "window": {"width": 800}})");

  const CommandResult used = utter("models use " + shell_quote(kTinyModel.string()));
  ASSERT_EQ(used.exit_code, 0) << used.output;
  const nlohmann::json settings = nlohmann::json::parse(read_file(settings_file()));
  EXPECT_EQ(settings["model"], kTinyModel.string());
  EXPECT_EQ(settings["mmproj"], kTinyMmproj.string());
  EXPECT_EQ(settings["language"], "de");
  EXPECT_EQ(settings["window"]["width"], 800);

  const CommandResult listed = utter("models list");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_TRUE(contains(listed.output, "* " + kTinyModel.string())) << listed.output;
  EXPECT_TRUE(contains(listed.output, kTinyMmproj.string() + ": matches")) << listed.output;
}

TEST_F(ModelsCommandTest, UseRejectsMismatchedPair) {
  const CommandResult result =
      utter("models use " + shell_quote(kKquantModel.string()) + " --mmproj " + shell_quote(kTinyMmproj.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "the projector does not fit the model")) << result.output;
  EXPECT_FALSE(fs::exists(settings_file()));
}

TEST_F(ModelsCommandTest, InvalidSettingsFileIsReported) {
  fs::create_directories(settings_file().parent_path());
  write_file(settings_file(), "{\"model\": ");
  const CommandResult result = utter("models list");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, settings_file().string() + ": invalid JSON")) << result.output;
}

TEST_F(ModelsCommandTest, ListWithoutModelsNamesPullCommand) {
  const CommandResult result = utter("models list");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "no model files found")) << result.output;
  EXPECT_TRUE(contains(result.output, "utter models pull")) << result.output;
}

TEST_F(ModelsCommandTest, ListFlagsTruncatedFileInModelsFolder) {
  const std::string body = read_file(kKquantModel);
  write_file(models_dir() / "broken.gguf", body.substr(0, body.size() / 2));
  const CommandResult result = utter("models list");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "unusable (truncated)")) << result.output;
}

TEST_F(ModelsCommandTest, DemoWithoutModelNamesPullCommand) {
  const CommandResult result = utter("demo");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "build/src/utter models pull")) << result.output;
}

TEST_F(ModelsCommandTest, DemoTranscribesWithDefaultModel) {
  ASSERT_EQ(utter("models use " + shell_quote(kTinyModel.string())).exit_code, 0);
  const CommandResult result = utter("demo --threads 2 --max-tokens 4");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "model:  " + kTinyModel.string())) << result.output;
  // The tiny model has random weights, so only the presence of a transcript line is checked.
  EXPECT_TRUE(contains(result.output, "transcript:")) << result.output;
}

}  // namespace
