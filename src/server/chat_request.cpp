#include "server/chat_request.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/audio_upload.h"
#include "server/base64.h"
#include "utter/audio/audio_error.h"
#include "utter/audio/audio_format.h"
#include "utter/audio/file_source.h"
#include "utter/inference/audio_projector.h"
#include "utter/inference/tokenizer.h"

namespace utter::server {
namespace {

using nlohmann::json;
using inference::ChatMessage;
using inference::ChatPart;
using inference::ChatRole;

constexpr std::string_view kAudioStart = "<|audio>";
constexpr std::string_view kAudioEnd = "<audio|>";

const char* json_type_name(const json& value) { return value.type_name(); }

double number_field(const json& body, const char* name, double min, double max) {
  const json& value = body.at(name);
  if (!value.is_number()) {
    throw invalid_request(fmt::format("'{}' must be a number, not {}", name, json_type_name(value)), name);
  }
  const double number = value.get<double>();
  if (!std::isfinite(number) || number < min || number > max) {
    throw invalid_request(fmt::format("'{}' is {}; it must lie in [{}, {}]", name, number, min, max), name);
  }
  return number;
}

int64_t integer_field(const json& body, const char* name, int64_t min, int64_t max) {
  const json& value = body.at(name);
  if (!value.is_number_integer()) {
    throw invalid_request(fmt::format("'{}' must be an integer, not {}", name, json_type_name(value)), name);
  }
  // Unsigned values above int64's range come back negative here and fail the check below.
  const int64_t number = value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())
                             ? std::numeric_limits<int64_t>::min()
                             : value.get<int64_t>();
  if (number < min || number > max) {
    throw invalid_request(fmt::format("'{}' is {}; it must lie in [{}, {}]", name, value.dump(), min, max), name);
  }
  return number;
}

bool has_value(const json& body, const char* name) { return body.contains(name) && !body.at(name).is_null(); }

ChatRole parse_role(const json& message, const std::string& where) {
  if (!message.contains("role")) throw invalid_request(where + " has no 'role'", where + ".role");
  const json& role = message.at("role");
  if (!role.is_string()) throw invalid_request(where + ".role must be a string", where + ".role");
  const std::string name = role.get<std::string>();
  if (name == "tool" || name == "function") {
    throw invalid_request(fmt::format("{}.role '{}' is not supported: this server has no tool calling", where, name),
                          where + ".role");
  }
  try {
    return inference::parse_chat_role(name);
  } catch (const std::invalid_argument&) {
    throw invalid_request(
        fmt::format("{}.role '{}' is invalid; use 'system', 'developer', 'user' or 'assistant'", where, name),
        where + ".role");
  }
}

// Replaces the temporary file's path in decoder messages with the request field it came from.
std::string describe_audio_error(std::string message, const std::string& file, const std::string& where) {
  for (size_t at = message.find(file); at != std::string::npos; at = message.find(file, at + where.size())) {
    message.replace(at, file.size(), where);
  }
  return message;
}

std::vector<float> decode_audio_part(const json& part, const std::string& where, const ChatRequestLimits& limits) {
  if (!part.contains("input_audio") || !part.at("input_audio").is_object()) {
    throw invalid_request(where + " has type 'input_audio' but no 'input_audio' object", where + ".input_audio");
  }
  const json& audio = part.at("input_audio");
  if (!audio.contains("data") || !audio.at("data").is_string()) {
    throw invalid_request(where + ".input_audio.data must be a base64 string", where + ".input_audio.data");
  }
  std::string format = "wav";
  if (has_value(audio, "format")) {
    if (!audio.at("format").is_string()) {
      throw invalid_request(where + ".input_audio.format must be a string", where + ".input_audio.format");
    }
    format = audio.at("format").get<std::string>();
  }
  static const std::vector<std::string> kFormats = {"wav", "mp3", "flac", "ogg", "opus"};
  if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end()) {
    throw invalid_request(fmt::format("{}.input_audio.format '{}' is not supported; use wav, mp3, flac, ogg or opus",
                                      where, format),
                          where + ".input_audio.format", "unsupported_format");
  }

  std::string_view data = audio.at("data").get_ref<const std::string&>();
  // Some clients send a data URL; its base64 payload follows the comma.
  if (data.starts_with("data:")) {
    const size_t comma = data.find(',');
    if (comma != std::string_view::npos) data.remove_prefix(comma + 1);
  }
  const std::optional<std::string> bytes = decode_base64(data);
  if (!bytes) {
    throw invalid_request(where + ".input_audio.data is not valid base64", where + ".input_audio.data", "invalid_base64");
  }
  if (bytes->empty()) {
    throw invalid_request(where + ".input_audio.data is empty", where + ".input_audio.data", "audio_empty");
  }

  TemporaryAudioFile file(*bytes, format);
  std::vector<float> samples;
  try {
    samples = audio::decode_file_16k_mono(file.path());
  } catch (const audio::AudioError& error) {
    throw invalid_request(describe_audio_error(error.what(), file.path().string(), where + ".input_audio.data"),
                          where + ".input_audio.data", "invalid_audio");
  }
  if (samples.empty()) {
    throw invalid_request(where + ".input_audio.data contains no audio samples", where + ".input_audio.data", "audio_empty");
  }
  const double seconds = static_cast<double>(samples.size()) / audio::kModelSampleRate;
  if (seconds > limits.max_clip_seconds) {
    throw invalid_request(fmt::format("{}.input_audio is {:.1f} s long; a clip may last at most {:.0f} s. Split it, or "
                                      "use /v1/audio/transcriptions for long recordings",
                                      where, seconds, limits.max_clip_seconds),
                          where + ".input_audio.data", "audio_too_long");
  }
  return samples;
}

ChatMessage parse_message(const json& message, const std::string& where, const ChatRequestLimits& limits,
                          std::vector<std::vector<float>>& audio_clips) {
  if (!message.is_object()) throw invalid_request(where + " must be an object", where);
  ChatMessage parsed;
  parsed.role = parse_role(message, where);

  if (!message.contains("content") || message.at("content").is_null()) {
    // An assistant turn may omit its content in OpenAI's API; it then counts as empty.
    if (parsed.role == ChatRole::Model) return parsed;
    throw invalid_request(where + " has no 'content'", where + ".content");
  }
  const json& content = message.at("content");
  if (content.is_string()) {
    parsed.parts.push_back(ChatPart::from_text(content.get<std::string>()));
    return parsed;
  }
  if (!content.is_array()) {
    throw invalid_request(where + ".content must be a string or an array of parts", where + ".content");
  }
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string part_where = fmt::format("{}.content[{}]", where, i);
    const json& part = content[i];
    if (!part.is_object() || !part.contains("type") || !part.at("type").is_string()) {
      throw invalid_request(part_where + " must be an object with a string 'type'", part_where + ".type");
    }
    const std::string type = part.at("type").get<std::string>();
    if (type == "text") {
      if (!part.contains("text") || !part.at("text").is_string()) {
        throw invalid_request(part_where + ".text must be a string", part_where + ".text");
      }
      parsed.parts.push_back(ChatPart::from_text(part.at("text").get<std::string>()));
    } else if (type == "input_audio") {
      if (parsed.role != ChatRole::User) {
        throw invalid_request(part_where + ": only user messages may hold audio", part_where + ".type");
      }
      audio_clips.push_back(decode_audio_part(part, part_where, limits));
      parsed.parts.push_back(ChatPart::audio());
    } else {
      throw invalid_request(
          fmt::format("{}.type '{}' is not supported; this model takes 'text' and 'input_audio' parts", part_where, type),
          part_where + ".type", "unsupported_content_type");
    }
  }
  return parsed;
}

std::vector<std::string> parse_stop(const json& value, const ChatRequestLimits& limits) {
  std::vector<std::string> stop;
  if (value.is_string()) {
    stop.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (!item.is_string()) throw invalid_request("'stop' must be a string or an array of strings", "stop");
      stop.push_back(item.get<std::string>());
    }
  } else {
    throw invalid_request("'stop' must be a string or an array of strings", "stop");
  }
  if (stop.size() > limits.max_stop_sequences) {
    throw invalid_request(fmt::format("'stop' has {} sequences; at most {} are allowed", stop.size(),
                                      limits.max_stop_sequences),
                          "stop");
  }
  for (const auto& sequence : stop) {
    if (sequence.empty()) throw invalid_request("'stop' contains an empty string", "stop");
  }
  return stop;
}

}  // namespace

ChatCompletionRequest parse_chat_request(std::string_view body, const ChatRequestLimits& limits) {
  json document;
  try {
    document = json::parse(body);
  } catch (const json::parse_error& error) {
    throw invalid_request(fmt::format("the request body is not valid JSON: {}", error.what()), {}, "invalid_json");
  }
  if (!document.is_object()) throw invalid_request("the request body must be a JSON object", {}, "invalid_json");

  ChatCompletionRequest request;
  if (!has_value(document, "model")) throw invalid_request("missing required field 'model'", "model");
  if (!document.at("model").is_string()) throw invalid_request("'model' must be a string", "model");
  // Any model name is accepted because the server has one model; /v1/models names it.
  request.model = document.at("model").get<std::string>();

  if (!has_value(document, "messages")) throw invalid_request("missing required field 'messages'", "messages");
  const json& messages = document.at("messages");
  if (!messages.is_array()) throw invalid_request("'messages' must be an array", "messages");
  if (messages.empty()) throw invalid_request("'messages' is empty; send at least one message", "messages");
  for (size_t i = 0; i < messages.size(); ++i) {
    request.messages.push_back(parse_message(messages[i], fmt::format("messages[{}]", i), limits, request.audio_clips));
  }

  // max_completion_tokens is the newer name of the same limit.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (has_value(document, name)) request.max_tokens = static_cast<int>(integer_field(document, name, 1, 1 << 24));
  }
  if (has_value(document, "n") && integer_field(document, "n", 1, 1) != 1) {
    throw invalid_request("'n' must be 1", "n");
  }

  request.sampling.temperature = 1.0f;
  request.sampling.top_p = 0.95f;
  request.sampling.top_k = 64;
  if (has_value(document, "temperature")) {
    request.sampling.temperature = static_cast<float>(number_field(document, "temperature", 0.0, 2.0));
  }
  if (has_value(document, "top_p")) {
    request.sampling.top_p = static_cast<float>(number_field(document, "top_p", 0.0, 1.0));
    if (request.sampling.top_p <= 0.0f) throw invalid_request("'top_p' must be greater than 0", "top_p");
  }
  // top_k and min_p are not in OpenAI's API; other local servers accept them under these names.
  if (has_value(document, "top_k")) request.sampling.top_k = static_cast<int>(integer_field(document, "top_k", 0, 1 << 20));
  if (has_value(document, "min_p")) request.sampling.min_p = static_cast<float>(number_field(document, "min_p", 0.0, 1.0));
  if (has_value(document, "seed")) {
    request.sampling.seed = static_cast<uint64_t>(
        integer_field(document, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  } else {
    request.sampling.seed = std::random_device{}();
  }

  if (has_value(document, "stop")) request.stop = parse_stop(document.at("stop"), limits);

  if (has_value(document, "stream")) {
    if (!document.at("stream").is_boolean()) throw invalid_request("'stream' must be true or false", "stream");
    request.stream = document.at("stream").get<bool>();
  }
  if (has_value(document, "stream_options")) {
    const json& options = document.at("stream_options");
    if (!options.is_object()) throw invalid_request("'stream_options' must be an object", "stream_options");
    if (has_value(options, "include_usage")) {
      if (!options.at("include_usage").is_boolean()) {
        throw invalid_request("'stream_options.include_usage' must be true or false", "stream_options.include_usage");
      }
      request.include_usage = options.at("include_usage").get<bool>();
    }
  }
  return request;
}

ChatPrompt build_chat_prompt(const inference::Tokenizer& tokenizer, const ChatCompletionRequest& request) {
  const std::string text = inference::render_chat_prompt(request.messages);

  std::vector<size_t> placeholders;
  for (size_t at = text.find(inference::kAudioPlaceholder); at != std::string::npos;
       at = text.find(inference::kAudioPlaceholder, at + inference::kAudioPlaceholder.size())) {
    placeholders.push_back(at);
  }
  if (placeholders.size() != request.audio_clips.size()) {
    throw invalid_request(fmt::format("a text part contains the reserved marker '{}'; remove it",
                                      inference::kAudioPlaceholder),
                          "messages");
  }

  ChatPrompt prompt;
  auto add_text = [&](const std::string& piece_text) {
    PromptPiece piece;
    piece.tokens = tokenizer.encode(piece_text, /*add_bos=*/false, /*parse_special=*/true);
    prompt.positions += static_cast<int64_t>(piece.tokens.size());
    prompt.pieces.push_back(std::move(piece));
  };

  size_t text_begin = 0;
  for (size_t clip = 0; clip < placeholders.size(); ++clip) {
    std::string before = text.substr(text_begin, placeholders[clip] - text_begin);
    if (clip > 0) before.insert(0, kAudioEnd);
    add_text(before + std::string(kAudioStart));

    PromptPiece audio_piece;
    audio_piece.audio_clip = static_cast<int>(clip);
    const int64_t samples = static_cast<int64_t>(request.audio_clips[clip].size());
    audio_piece.audio_frames = (samples + inference::AudioProjector::kFrameSamples - 1) /
                               inference::AudioProjector::kFrameSamples;
    prompt.positions += audio_piece.audio_frames;
    prompt.pieces.push_back(std::move(audio_piece));
    text_begin = placeholders[clip] + inference::kAudioPlaceholder.size();
  }
  std::string rest = text.substr(text_begin);
  if (!placeholders.empty()) rest.insert(0, kAudioEnd);
  add_text(rest);
  return prompt;
}

}  // namespace utter::server
