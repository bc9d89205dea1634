#include "utter/editor/utf8.h"

namespace utter::editor {

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    char32_t minimum = 0;
    char32_t code_point = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      minimum = 0x80;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      minimum = 0x800;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      minimum = 0x10000;
      code_point = lead & 0x07;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (!is_utf8_continuation(byte)) return i;
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += length;
  }
  return std::nullopt;
}

char32_t decode_utf8(std::string_view text, std::size_t offset, std::size_t* length) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  std::size_t count = 1;
  char32_t code_point = lead;
  if (lead >= 0xF0) {
    count = 4;
    code_point = lead & 0x07;
  } else if (lead >= 0xE0) {
    count = 3;
    code_point = lead & 0x0F;
  } else if (lead >= 0xC0) {
    count = 2;
    code_point = lead & 0x1F;
  }
  if (offset + count > text.size()) count = text.size() - offset;
  for (std::size_t k = 1; k < count; ++k) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[offset + k]) & 0x3F);
  }
  if (length != nullptr) *length = count;
  return code_point;
}

std::size_t previous_code_point(std::string_view text, std::size_t offset) {
  if (offset == 0) return 0;
  std::size_t i = offset - 1;
  while (i > 0 && is_utf8_continuation(static_cast<unsigned char>(text[i]))) --i;
  return i;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace utter::editor
