// Measures the editor core on a large document: insert, delete, undo and redo in the piece
// table, dictation insertion, and voice commands that need text boundaries. Prints timings;
// it asserts nothing.
#include "utter/editor/dictation.h"
#include "utter/editor/document.h"
#include "utter/editor/document_file.h"
#include "utter/editor/voice_commands.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using utter::editor::Document;

struct Timings {
  std::vector<double> microseconds;

  void print(const std::string& name) {
    std::sort(microseconds.begin(), microseconds.end());
    const auto at = [&](double fraction) {
      return microseconds[std::min(microseconds.size() - 1, static_cast<std::size_t>(fraction * microseconds.size()))];
    };
    fmt::print("{:<34} n={:<6} median {:>9.2f} us   p99 {:>9.2f} us   max {:>9.2f} us\n", name,
               microseconds.size(), at(0.5), at(0.99), microseconds.back());
  }
};

double time_once(const std::function<void()>& action) {
  const auto start = Clock::now();
  action();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// A multilingual paragraph repeated up to size bytes.
std::string make_text(std::size_t size) {
  const std::string paragraph =
      "The quarterly report is due on Friday, and the café downstairs serves crème brûlée. "
      "東京の天気は晴れです。 שלום עולם, مرحبا بالعالم. Family 👨‍👩‍👧 says hi 👋🏽.\n\n";
  std::string text;
  text.reserve(size + paragraph.size());
  while (text.size() < size) text += paragraph;
  return text;
}

std::size_t boundary_at_or_before(const Document& document, std::size_t position) {
  std::string probe = document.substr(position, 1);
  while (position > 0 && !probe.empty() && (static_cast<unsigned char>(probe[0]) & 0xC0) == 0x80) {
    --position;
    probe = document.substr(position, 1);
  }
  return position;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark the editor core on a large document"};
  double megabytes = 10.0;
  int edits = 1000;
  unsigned seed = 1;
  app.add_option("--megabytes", megabytes, "Document size in MB (10^6 bytes)")->check(CLI::PositiveNumber);
  app.add_option("--edits", edits, "Number of timed operations of each kind")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "Seed of the random edit positions");
  CLI11_PARSE(app, argc, argv);

  const std::string text = make_text(static_cast<std::size_t>(megabytes * 1e6));
  Document document(text);
  std::mt19937 random(seed);
  auto random_position = [&] {
    return boundary_at_or_before(document, std::uniform_int_distribution<std::size_t>(0, document.size())(random));
  };
  fmt::print("document: {} bytes, {} timed operations of each kind\n", document.size(), edits);

  Timings inserts;
  for (int i = 0; i < edits; ++i) {
    const std::size_t position = random_position();
    inserts.microseconds.push_back(time_once([&] { document.insert(position, "dictated words "); }));
  }
  inserts.print("insert 15 bytes at random place");

  Timings deletes;
  for (int i = 0; i < edits; ++i) {
    const std::size_t position = std::min(random_position(), document.size() - 64);
    const std::size_t end = boundary_at_or_before(document, position + 10);
    deletes.microseconds.push_back(time_once([&] { document.erase(position, end - position); }));
  }
  deletes.print("delete ~10 bytes at random place");
  fmt::print("pieces after the edits: {}\n", document.piece_count());

  Timings undos;
  for (int i = 0; i < edits; ++i) undos.microseconds.push_back(time_once([&] { document.undo(); }));
  undos.print("undo one edit");
  Timings redos;
  for (int i = 0; i < edits; ++i) redos.microseconds.push_back(time_once([&] { document.redo(); }));
  redos.print("redo one edit");

  Timings typing;
  document.set_cursor(random_position());
  for (int i = 0; i < edits; ++i) {
    typing.microseconds.push_back(time_once([&] { document.type_text(i % 6 == 5 ? " " : "a"); }));
  }
  typing.print("type one character");

  const auto punctuation = utter::editor::SpokenPunctuation::load_default();
  Timings dictation;
  for (int i = 0; i < std::min(edits, 200); ++i) {
    document.set_cursor(random_position());
    dictation.microseconds.push_back(time_once(
        [&] { utter::editor::insert_dictation(document, punctuation, "hello comma world period"); }));
  }
  dictation.print("dictate one utterance");

  Timings materialize;
  for (int i = 0; i < 20; ++i) {
    document.insert(random_position(), "x");
    materialize.microseconds.push_back(time_once([&] { (void)document.text(); }));
  }
  materialize.print("build whole text after an edit");

  {
    const std::filesystem::path folder = std::filesystem::temp_directory_path() / "utter-bench-editor";
    utter::editor::AutosaveJournal journal(folder / "bench.journal", folder / "bench.txt");
    Timings autosave;
    for (int i = 0; i < 5; ++i) {
      document.insert(random_position(), "x");
      autosave.microseconds.push_back(time_once([&] { journal.write(document); }));
    }
    autosave.print("autosave journal (write + fsync)");
    journal.discard();
    std::filesystem::remove(folder);
  }

  const auto grammar = utter::editor::CommandGrammar::load_default();
  for (const char* utterance : {"select the last word", "select the last sentence", "select the paragraph",
                                "select quarterly report"}) {
    Timings command;
    const auto matched = grammar.match(utterance);
    for (int i = 0; i < 5; ++i) {
      document.set_cursor(random_position());
      command.microseconds.push_back(
          time_once([&] { utter::editor::execute_command(document, *matched, {}); }));
    }
    command.print(std::string("command: ") + utterance);
  }
  return 0;
}
