#include "app/app_fonts.h"

#include <imgui.h>

#include <span>
#include <string>
#include <system_error>

namespace utter::app {
namespace {

// Debian packages: fonts-dejavu-core (Bitstream Vera derived licence), fonts-droid-fallback
// (Apache 2.0), fonts-nanum and fonts-noto-cjk (both SIL Open Font License 1.1).
const char* const kTextFonts[] = {
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
};
const char* const kCjkFonts[] = {
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
};
// Droid Sans Fallback has no Hangul syllables, so Korean comes from its own font.
const char* const kHangulFonts[] = {
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
};

bool exists(const char* path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

// ImGui bakes glyphs into one texture up front, so the ranges are chosen: the scripts of the
// text font, the common CJK ideographs and kana, and the Hangul letters and syllables.
// NOTE: Debian's ImGui uses 16-bit characters, so emoji above U+FFFF draw as U+FFFD.
const ImWchar* text_ranges() {
  static ImVector<ImWchar> ranges;
  if (ranges.empty()) {
    ImFontGlyphRangesBuilder builder;
    const ImWchar extra[] = {
        0x0100, 0x024F,  // Latin Extended-A and -B
        0x0370, 0x03FF,  // Greek and Coptic
        0x1E00, 0x1FFF,  // Latin Extended Additional, Greek Extended
        0x2000, 0x206F,  // General Punctuation
        0x20A0, 0x20CF,  // currency symbols
        0x2100, 0x22FF,  // letterlike symbols, arrows, mathematical operators
        0x2500, 0x27BF,  // box drawing, shapes, miscellaneous symbols, dingbats
        0xFFFD, 0xFFFD,  // the replacement character, drawn for characters above U+FFFF
        0,
    };
    builder.AddRanges(ImGui::GetIO().Fonts->GetGlyphRangesDefault());
    builder.AddRanges(ImGui::GetIO().Fonts->GetGlyphRangesCyrillic());
    builder.AddRanges(extra);
    builder.BuildRanges(&ranges);
  }
  return ranges.Data;
}

const ImWchar* cjk_ranges() {
  static ImVector<ImWchar> ranges;
  if (ranges.empty()) {
    ImFontGlyphRangesBuilder builder;
    builder.AddRanges(ImGui::GetIO().Fonts->GetGlyphRangesJapanese());
    builder.AddRanges(ImGui::GetIO().Fonts->GetGlyphRangesChineseSimplifiedCommon());
    builder.BuildRanges(&ranges);
  }
  return ranges.Data;
}

const ImWchar kHangulRanges[] = {0x3130, 0x318F, 0xAC00, 0xD7A3, 0};  // letters and syllables

// Merges the first installed font of candidates into the text font; returns its path or "".
std::string merge_first(std::span<const char* const> candidates, const ImWchar* ranges, float size_pixels) {
  for (const char* path : candidates) {
    if (!exists(path)) continue;
    ImFontConfig config;
    config.MergeMode = true;
    config.OversampleH = 1;
    if (ImGui::GetIO().Fonts->AddFontFromFileTTF(path, size_pixels, &config, ranges) != nullptr) return path;
  }
  return {};
}

}  // namespace

FontSetup load_editor_fonts(float size_pixels) {
  FontSetup setup;
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  atlas->TexDesiredWidth = 4096;

  ImFont* text_font = nullptr;
  for (const char* path : kTextFonts) {
    if (!exists(path)) continue;
    ImFontConfig config;
    config.OversampleH = 1;  // the atlas is large already; hinting keeps small text sharp
    text_font = atlas->AddFontFromFileTTF(path, size_pixels, &config, text_ranges());
    if (text_font != nullptr) {
      setup.loaded.emplace_back(path);
      break;
    }
  }
  if (text_font == nullptr) {
    setup.warnings.push_back("No text font found (install fonts-dejavu-core); only ASCII can be shown.");
    ImFontConfig config;
    config.SizePixels = size_pixels;
    atlas->AddFontDefault(&config);
    return setup;
  }

  const std::string cjk = merge_first(kCjkFonts, cjk_ranges(), size_pixels);
  if (cjk.empty()) {
    setup.warnings.push_back("No CJK font found (install fonts-droid-fallback); CJK text shows as '?'.");
  } else {
    setup.loaded.emplace_back(cjk);
  }
  const std::string hangul = merge_first(kHangulFonts, kHangulRanges, size_pixels);
  if (hangul.empty()) {
    setup.warnings.push_back("No Korean font found (install fonts-nanum); Hangul shows as '?'.");
  } else if (hangul != cjk) {
    setup.loaded.emplace_back(hangul);
  }
  return setup;
}

}  // namespace utter::app
