#include "app/app_fonts.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <system_error>

#include "app/extra_glyphs.h"

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
// Characters above U+FFFF cannot be in the atlas, because Debian's ImGui uses 16-bit
// characters; ExtraGlyphs draws them in the text view.
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

// Makes U+FFFD, which ImGui draws for every character above U+FFFF and every character the
// atlas lacks, a glyph one ExtraGlyphs cell wide. The text view draws those characters
// itself in that cell. Other widgets show the glyph's picture: a box, the usual sign of a
// missing glyph. Call before the atlas is built; returns the custom rectangle's index.
int add_missing_glyph_box(ImFont* font, float size_pixels, float cell_advance) {
  const int width = std::max(3, static_cast<int>(cell_advance * 0.7f));
  const int height = std::max(5, static_cast<int>(size_pixels * 0.65f));
  const ImVec2 offset(std::round((cell_advance - static_cast<float>(width)) * 0.5f), std::round(size_pixels * 0.22f));
  return ImGui::GetIO().Fonts->AddCustomRectFontGlyph(font, 0xFFFD, width, height, cell_advance, offset);
}

// Draws the box outline into the built atlas's custom rectangle.
void draw_missing_glyph_box(int rect_index, float size_pixels) {
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  unsigned char* pixels = nullptr;
  int atlas_width = 0;
  int atlas_height = 0;
  atlas->GetTexDataAsAlpha8(&pixels, &atlas_width, &atlas_height);
  const ImFontAtlasCustomRect* rect = atlas->GetCustomRectByIndex(rect_index);
  const int line = std::max(1, static_cast<int>(std::round(size_pixels / 17.0f)));
  for (int y = 0; y < rect->Height; ++y) {
    for (int x = 0; x < rect->Width; ++x) {
      const bool edge = x < line || y < line || x >= rect->Width - line || y >= rect->Height - line;
      pixels[(rect->Y + y) * atlas_width + rect->X + x] = edge ? 255 : 0;
    }
  }
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

  const std::filesystem::path symbols = extra_glyphs().load(size_pixels);
  if (symbols.empty()) {
    setup.warnings.push_back("No emoji font found (install fonts-symbola); emoji show as boxes.");
  } else {
    setup.loaded.push_back(symbols);
  }
  const int box = add_missing_glyph_box(text_font, size_pixels, extra_glyphs().cell_advance());
  if (!atlas->Build()) {
    setup.warnings.push_back("The font atlas could not be built; text may not show.");
    return setup;
  }
  draw_missing_glyph_box(box, size_pixels);
  return setup;
}

}  // namespace utter::app
