// utter-make-test-model: writes a random-weight Gemma 4 text model GGUF (and optionally its
// gemma4ua audio projector "mmproj" GGUF) of any shape, in the layout of the published
// files: the same metadata keys and key types, tensor names, shapes and tensor order.
//
// Tensor data are generated, encoded and written one chunk of rows at a time, so even the
// full 12B shape needs little memory. --zero-weights writes matrices as holes in a sparse
// file, which lays out the 12B shape in about a second.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "make_test_model/chat_template.h"
#include "make_test_model/hf_vocabulary.h"
#include "make_test_model/model_shape.h"
#include "make_test_model/tensor_data_writer.h"
#include "thread_pool.h"
#include "utter/inference/gguf.h"
#include "utter/inference/tensor_type.h"

namespace utter::test_model {
namespace {

using inference::GgufWriter;

struct Options {
  std::string preset = "tiny";
  std::filesystem::path output;
  std::filesystem::path mmproj_output;
  std::filesystem::path tokenizer;
  std::optional<uint32_t> vocab_size;
  std::string type_name = "F32";
  std::string embedding_type_name;  // empty: the same as type_name
  std::string mmproj_type_name = "F32";
  uint64_t seed = 1;
  bool zero_weights = false;
  int threads = 2;
  std::string name;  // general.name; empty: derived from the preset
};

// Hyper-parameters given on the command line, applied over the preset.
struct ShapeOverrides {
  std::optional<uint32_t> hidden, layers, heads, kv_heads_swa, kv_heads_full, head_dim_swa,
      head_dim_full, ffn, window, context_length;
  std::optional<std::string> pattern;
  std::optional<float> rope_base_swa, rope_base_full, rope_fraction_full, softcap, rms_eps;

  void apply(ModelShape& shape) const {
    auto set = [](auto& field, const auto& value) {
      if (value) field = *value;
    };
    set(shape.hidden, hidden);
    set(shape.layers, layers);
    set(shape.heads, heads);
    set(shape.kv_heads_swa, kv_heads_swa);
    set(shape.kv_heads_full, kv_heads_full);
    set(shape.head_dim_swa, head_dim_swa);
    set(shape.head_dim_full, head_dim_full);
    set(shape.ffn, ffn);
    set(shape.window, window);
    set(shape.context_length, context_length);
    set(shape.pattern, pattern);
    set(shape.rope_base_swa, rope_base_swa);
    set(shape.rope_base_full, rope_base_full);
    set(shape.rope_fraction_full, rope_fraction_full);
    set(shape.softcap, softcap);
    set(shape.rms_eps, rms_eps);
  }
};

TensorType parse_type(const std::string& text, std::string_view option,
                      std::initializer_list<TensorType> allowed) {
  const auto type = inference::tensor_type_from_name(text);
  for (TensorType candidate : allowed) {
    if (type && *type == candidate) return candidate;
  }
  std::string names;
  for (TensorType candidate : allowed) {
    if (!names.empty()) names += ", ";
    names += inference::tensor_type_name(candidate);
  }
  throw std::invalid_argument(
      fmt::format("{} {} is not supported; choose one of {}", option, text, names));
}

bool is_block_type(TensorType type) {
  return inference::tensor_type_traits(type).block_elements > 1;
}

void add_text_metadata(GgufWriter& writer, const std::string& name, const ModelShape& shape,
                       TensorType matrix_type, TensorType embedding_type, uint32_t file_type) {
  using namespace inference;
  writer.add_metadata("general.architecture", gguf_make_string("gemma4"));
  writer.add_metadata("general.name", gguf_make_string(name));
  // llama-quantize adds the quantization format version to every file it writes.
  if (is_block_type(matrix_type) || is_block_type(embedding_type)) {
    writer.add_metadata("general.quantization_version", gguf_make_u32(2));
  }
  writer.add_metadata("general.file_type", gguf_make_u32(file_type));

  std::vector<int32_t> kv_heads;
  std::vector<bool> sliding_pattern;
  for (uint32_t layer = 0; layer < shape.layers; ++layer) {
    kv_heads.push_back(static_cast<int32_t>(shape.kv_heads(layer)));
    sliding_pattern.push_back(shape.sliding(layer));
  }

  writer.add_metadata("gemma4.context_length", gguf_make_u32(shape.context_length));
  writer.add_metadata("gemma4.embedding_length", gguf_make_u32(shape.hidden));
  writer.add_metadata("gemma4.block_count", gguf_make_u32(shape.layers));
  writer.add_metadata("gemma4.feed_forward_length", gguf_make_u32(shape.ffn));
  writer.add_metadata("gemma4.attention.head_count", gguf_make_u32(shape.heads));
  writer.add_metadata("gemma4.attention.head_count_kv", gguf_make_i32_array(kv_heads));
  writer.add_metadata("gemma4.rope.freq_base", gguf_make_f32(shape.rope_base_full));
  writer.add_metadata("gemma4.rope.freq_base_swa", gguf_make_f32(shape.rope_base_swa));
  writer.add_metadata("gemma4.attention.layer_norm_rms_epsilon", gguf_make_f32(shape.rms_eps));
  // key_length / value_length describe the full-attention layers, the _swa keys the others.
  writer.add_metadata("gemma4.attention.key_length", gguf_make_u32(shape.head_dim_full));
  writer.add_metadata("gemma4.attention.value_length", gguf_make_u32(shape.head_dim_full));
  writer.add_metadata("gemma4.attention.key_length_swa", gguf_make_u32(shape.head_dim_swa));
  writer.add_metadata("gemma4.attention.value_length_swa", gguf_make_u32(shape.head_dim_swa));
  // Readers take a missing key to mean "no soft-cap", so --softcap 0 leaves it out.
  if (shape.softcap > 0.0f) {
    writer.add_metadata("gemma4.final_logit_softcapping", gguf_make_f32(shape.softcap));
  }
  writer.add_metadata("gemma4.attention.sliding_window", gguf_make_u32(shape.window));
  writer.add_metadata("gemma4.attention.shared_kv_layers", gguf_make_u32(0));
  writer.add_metadata("gemma4.embedding_length_per_layer_input", gguf_make_u32(0));
  writer.add_metadata("gemma4.attention.sliding_window_pattern",
                      gguf_make_bool_array(sliding_pattern));
  // Both layer kinds rotate the whole head, and rope_freqs freezes most of the full layers'
  // pairs.
  writer.add_metadata("gemma4.rope.dimension_count", gguf_make_u32(shape.head_dim_full));
  writer.add_metadata("gemma4.rope.dimension_count_swa", gguf_make_u32(shape.head_dim_swa));
}

// Moves the vocabulary's arrays into the writer's metadata.
void add_tokenizer_metadata(GgufWriter& writer, Vocabulary vocabulary) {
  using namespace inference;
  const size_t size = vocabulary.tokens.size();
  writer.add_metadata("tokenizer.ggml.model", gguf_make_string("gemma4"));
  writer.add_metadata("tokenizer.ggml.tokens", gguf_make_string_array(std::move(vocabulary.tokens)));
  // Gemma 4's BPE ignores scores; the converter stores -1000 for every token.
  writer.add_metadata("tokenizer.ggml.scores",
                      gguf_make_f32_array(std::vector<float>(size, -1000.0f)));
  writer.add_metadata("tokenizer.ggml.token_type", gguf_make_i32_array(vocabulary.token_types));
  vocabulary.token_types = {};
  writer.add_metadata("tokenizer.ggml.merges", gguf_make_string_array(std::move(vocabulary.merges)));
  writer.add_metadata("tokenizer.ggml.bos_token_id", gguf_make_u32(2));
  writer.add_metadata("tokenizer.ggml.eos_token_id", gguf_make_u32(1));
  writer.add_metadata("tokenizer.ggml.unknown_token_id", gguf_make_u32(3));
  writer.add_metadata("tokenizer.ggml.padding_token_id", gguf_make_u32(0));
  writer.add_metadata("tokenizer.ggml.add_bos_token", gguf_make_bool(true));
  writer.add_metadata("tokenizer.ggml.add_eos_token", gguf_make_bool(false));
  writer.add_metadata("tokenizer.ggml.add_space_prefix", gguf_make_bool(false));
  writer.add_metadata("tokenizer.ggml.suppress_tokens",
                      gguf_make_i32_array(vocabulary.suppress_tokens));
  writer.add_metadata("tokenizer.chat_template",
                      gguf_make_string(std::string(kGemma4ChatTemplate)));
}

uint64_t write_tensors(GgufWriter& writer, const std::vector<TensorPlan>& plans,
                       const Options& options, inference::ThreadPool& pool,
                       const std::string& label) {
  uint64_t total_bytes = 0;
  for (const auto& plan : plans) {
    writer.add_tensor_info(plan.name, plan.type, plan.shape);
    total_bytes += tensor_bytes(plan);
  }
  writer.write_header();

  ProgressLine progress(label, total_bytes);
  TensorDataWriter data_writer(pool, options.seed, options.zero_weights);
  data_writer.write_all(plans, writer, progress);
  writer.finish();
  progress.finish();
  return total_bytes;
}

struct WeightTypes {
  bool q4_k_m = false;  // Q4_K matrices with llama-quantize's Q6_K choices, and a Q6_K embedding
  TensorType matrix;
  TensorType embedding;
  TensorType projector;
};

WeightTypes parse_weight_types(const Options& options) {
  const auto text_types = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                           TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K};
  WeightTypes types;
  types.q4_k_m = options.type_name == "Q4_K_M";
  types.matrix = types.q4_k_m ? TensorType::Q4_K : parse_type(options.type_name, "--type", text_types);
  const TensorType default_embedding = types.q4_k_m ? TensorType::Q6_K : types.matrix;
  types.embedding =
      options.embedding_type_name.empty()
          ? default_embedding
          : parse_type(options.embedding_type_name, "--embedding-type", text_types);
  types.projector = parse_type(options.mmproj_type_name, "--mmproj-type",
                               {TensorType::F32, TensorType::F16, TensorType::BF16});
  return types;
}

void write_text_model(const Options& options, const ModelShape& shape, const WeightTypes& types,
                      Vocabulary vocabulary, inference::ThreadPool& pool) {
  const auto vocab_size = static_cast<uint32_t>(vocabulary.tokens.size());
  auto plans = plan_text_tensors(shape, vocab_size, types.matrix, types.embedding, WeightRecipe{});
  if (types.q4_k_m) apply_q4_k_m_mix(plans);

  GgufWriter writer(options.output);
  // llama.cpp's file type 15 is "mostly Q4_K_M".
  const uint32_t file_type = types.q4_k_m ? 15 : llama_file_type(types.matrix);
  add_text_metadata(writer, options.name, shape, types.matrix, types.embedding, file_type);
  add_tokenizer_metadata(writer, std::move(vocabulary));
  const uint64_t bytes = write_tensors(writer, plans, options, pool, options.output.string());
  fmt::print("wrote {}: {} tensors, {} tensor data bytes\n", options.output.string(),
             plans.size(), bytes);
}

void write_audio_projector(const Options& options, const ModelShape& shape, TensorType type,
                           inference::ThreadPool& pool) {
  using namespace inference;
  const std::vector<TensorPlan> plans = {plan_audio_projector(shape, type)};

  GgufWriter writer(options.mmproj_output);
  writer.add_metadata("general.architecture", gguf_make_string("clip"));
  writer.add_metadata("general.name", gguf_make_string(options.name + "-mmproj"));
  writer.add_metadata("general.file_type", gguf_make_u32(llama_file_type(type)));
  writer.add_metadata("clip.has_vision_encoder", gguf_make_bool(false));
  writer.add_metadata("clip.has_audio_encoder", gguf_make_bool(true));
  writer.add_metadata("clip.audio.projector_type", gguf_make_string("gemma4ua"));
  writer.add_metadata("clip.audio.embedding_length",
                      gguf_make_u32(static_cast<uint32_t>(kAudioFrameSamples)));
  // The gemma4ua projector has no encoder: no feed-forward, blocks or attention heads.
  writer.add_metadata("clip.audio.feed_forward_length", gguf_make_u32(0));
  writer.add_metadata("clip.audio.block_count", gguf_make_u32(0));
  writer.add_metadata("clip.audio.attention.head_count", gguf_make_u32(0));
  writer.add_metadata("clip.audio.projection_dim", gguf_make_u32(shape.hidden));
  writer.add_metadata("clip.audio.attention.layer_norm_epsilon", gguf_make_f32(shape.rms_eps));
  // The official conversion writes 128 here although the projector reads raw 640-sample
  // frames; llama.cpp ignores the value for gemma4ua.
  writer.add_metadata("clip.audio.num_mel_bins", gguf_make_u32(128));

  const uint64_t bytes =
      write_tensors(writer, plans, options, pool, options.mmproj_output.string());
  fmt::print("wrote {}: {} tensor, {} tensor data bytes\n", options.mmproj_output.string(),
             plans.size(), bytes);
}

int run(const Options& options, const ShapeOverrides& overrides) {
  auto shape = preset_shape(options.preset);
  if (!shape) {
    throw std::invalid_argument(
        fmt::format("--preset {} is unknown; choose tiny or 12b", options.preset));
  }
  overrides.apply(*shape);
  validate_shape(*shape);
  if (options.threads < 1) {
    throw std::invalid_argument(fmt::format("--threads {} must be at least 1", options.threads));
  }

  // Check every type against every row length before the slow tokenizer read. The
  // vocabulary size changes only the embedding's row count, so a placeholder of 1 is used.
  const WeightTypes types = parse_weight_types(options);
  validate_block_sizes(plan_text_tensors(*shape, 1, types.matrix, types.embedding, {}));
  validate_block_sizes({plan_audio_projector(*shape, types.projector)});

  Options resolved = options;
  if (resolved.name.empty()) resolved.name = "utter-test-" + options.preset;

  Vocabulary vocabulary = read_gemma4_vocabulary(options.tokenizer);
  if (options.vocab_size) vocabulary = cut_vocabulary(std::move(vocabulary), *options.vocab_size);

  inference::ThreadPool pool(options.threads);
  write_text_model(resolved, *shape, types, std::move(vocabulary), pool);
  if (!options.mmproj_output.empty()) {
    write_audio_projector(resolved, *shape, types.projector, pool);
  }
  return 0;
}

template <typename T>
void add_override(CLI::App& app, const std::string& flag, std::optional<T>& target,
                  const std::string& help) {
  app.add_option_function<T>(flag, [&target](const T& value) { target = value; }, help);
}

}  // namespace
}  // namespace utter::test_model

int main(int argc, char** argv) {
  using namespace utter::test_model;
  Options options;
  ShapeOverrides overrides;

  CLI::App app{
      "Writes a random-weight Gemma 4 model (text GGUF and optional gemma4ua audio projector "
      "GGUF) in the layout of the published files, for tests and benchmarks."};
  app.add_option("-o,--output", options.output, "Text model GGUF to write")->required();
  app.add_option("--mmproj", options.mmproj_output, "Audio projector (mmproj) GGUF to write");
  app.add_option("--tokenizer", options.tokenizer,
                 "Hugging Face tokenizer.json with the 262,144-token Gemma vocabulary")
      ->required();
  app.add_option("--preset", options.preset, "Base shape: tiny or 12b")->capture_default_str();
  app.add_option_function<uint32_t>(
      "--vocab-size", [&options](const uint32_t& value) { options.vocab_size = value; },
      "Cut the vocabulary to this many tokens (the media markers move to the last ids)");
  app.add_option("--type", options.type_name,
                 "Matrix type: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, or Q4_K_M (Q4_K with some Q6_K, as llama-quantize mixes them)")->capture_default_str();
  app.add_option("--embedding-type", options.embedding_type_name,
                 "Type of token_embd.weight (default: the --type)");
  app.add_option("--mmproj-type", options.mmproj_type_name,
                 "Audio projector matrix type: F32, F16 or BF16")->capture_default_str();
  app.add_option("--seed", options.seed, "Seed of the random weights")->capture_default_str();
  app.add_flag("--zero-weights", options.zero_weights,
               "Write all matrices as zeros (holes in a sparse file); vectors stay random");
  app.add_option("--threads", options.threads, "Threads that generate and quantize weights")
      ->capture_default_str();
  app.add_option("--name", options.name, "general.name (default: utter-test-PRESET)");

  add_override(app, "--hidden", overrides.hidden, "Hidden size (embedding length)");
  add_override(app, "--layers", overrides.layers, "Number of layers");
  add_override(app, "--pattern", overrides.pattern,
               "Layer kinds, S = sliding window, F = full attention, repeated to fill the "
               "layers (tiny: SSF, 12b: SSSSSF)");
  add_override(app, "--heads", overrides.heads, "Query heads");
  add_override(app, "--kv-heads-swa", overrides.kv_heads_swa, "Key/value heads, sliding layers");
  add_override(app, "--kv-heads-full", overrides.kv_heads_full, "Key/value heads, full layers");
  add_override(app, "--head-dim-swa", overrides.head_dim_swa, "Head size, sliding layers");
  add_override(app, "--head-dim-full", overrides.head_dim_full, "Head size, full layers");
  add_override(app, "--ffn", overrides.ffn, "Feed-forward width");
  add_override(app, "--window", overrides.window, "Sliding window in positions");
  add_override(app, "--context", overrides.context_length, "Training context length");
  add_override(app, "--rope-base-swa", overrides.rope_base_swa, "RoPE base, sliding layers");
  add_override(app, "--rope-base-full", overrides.rope_base_full, "RoPE base, full layers");
  add_override(app, "--rope-fraction-full", overrides.rope_fraction_full,
               "Share of the full layers' rotary pairs that rotate (0.25 in Gemma 4)");
  add_override(app, "--softcap", overrides.softcap, "Final logit soft-cap, 0 for none");
  add_override(app, "--eps", overrides.rms_eps, "RMSNorm epsilon");

  CLI11_PARSE(app, argc, argv);

  try {
    return run(options, overrides);
  } catch (const std::exception& error) {
    fmt::print(stderr, "utter-make-test-model: error: {}\n", error.what());
    return 1;
  }
}
