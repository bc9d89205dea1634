#include "utter/editor/document_file.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace utter::editor {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (fs::temp_directory_path() / "utter-editor-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempFolder() {
    std::error_code error;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, error);
    fs::remove_all(path_, error);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream stream(path, std::ios::binary);
  stream << bytes;
}

// Names of the files in folder, to show that no temporary file was left behind.
std::vector<std::string> file_names(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs body in a child process and returns what it wrote to its output pipe, and its exit
// status. The child never returns into the test framework.
struct ChildResult {
  int exit_status = -1;
  std::string output;
};

template <typename Body>
ChildResult run_in_child(Body body) {
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    ::close(pipe_ends[0]);
    int status = 1;
    std::string message;
    try {
      status = body(message);
    } catch (const std::exception& error) {
      message = std::string("unexpected exception: ") + error.what();
    }
    (void)!::write(pipe_ends[1], message.data(), message.size());
    ::_exit(status);
  }
  ::close(pipe_ends[1]);
  ChildResult result;
  char buffer[4096];
  ssize_t count = 0;
  while ((count = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0) result.output.append(buffer, static_cast<std::size_t>(count));
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(DocumentFile, FormatFromExtension) {
  EXPECT_EQ(format_for_path("notes.md"), FileFormat::kMarkdown);
  EXPECT_EQ(format_for_path("/a/b/README.Markdown"), FileFormat::kMarkdown);
  EXPECT_EQ(format_for_path("x.MKD"), FileFormat::kMarkdown);
  EXPECT_EQ(format_for_path("notes.txt"), FileFormat::kPlainText);
  EXPECT_EQ(format_for_path("md"), FileFormat::kPlainText);
}

TEST(DocumentFile, RoundTripKeepsLayout) {
  TempFolder folder;
  const std::vector<std::string> originals = {
      "plain\ntext é\n",
      "\xEF\xBB\xBF" "with mark\r\nand CRLF 👍🏽\r\n",
      "mixed\r\nline\nends\r\n",
      "",
      "no final newline 東京",
  };
  for (const std::string& original : originals) {
    const fs::path path = folder.path() / "doc.md";
    write_bytes(path, original);
    const TextFile file = read_text_file(path);
    EXPECT_EQ(file.layout.format, FileFormat::kMarkdown);
    save_text_file(path, file.text, file.layout);
    EXPECT_EQ(read_bytes(path), original);
  }
  write_bytes(folder.path() / "crlf.txt", "a\r\nb\r\n");
  EXPECT_EQ(read_text_file(folder.path() / "crlf.txt").text, "a\nb\n");
}

TEST(DocumentFile, InvalidUtf8NamesOffsetAndLine) {
  TempFolder folder;
  const fs::path path = folder.path() / "latin1.txt";
  write_bytes(path, "line one\ncaf\xE9\n");
  try {
    read_text_file(path);
    FAIL() << "expected a FileError";
  } catch (const FileError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("offset 12"), std::string::npos) << message;
    EXPECT_NE(message.find("line 2"), std::string::npos) << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  }
}

TEST(DocumentFile, MissingFileAndFolder) {
  TempFolder folder;
  EXPECT_THROW(read_text_file(folder.path() / "absent.txt"), FileError);
  EXPECT_THROW(read_text_file(folder.path()), FileError);
  try {
    write_file_atomic(folder.path() / "no-such-folder" / "x.txt", "text");
    FAIL() << "expected a FileError";
  } catch (const FileError& error) {
    EXPECT_NE(std::string(error.what()).find("no file was written"), std::string::npos) << error.what();
  }
}

TEST(DocumentFile, AtomicSaveReplacesAndKeepsPermissions) {
  TempFolder folder;
  const fs::path path = folder.path() / "doc.txt";
  write_bytes(path, "old");
  ::chmod(path.c_str(), 0640);
  write_file_atomic(path, "new text ✓");
  EXPECT_EQ(read_bytes(path), "new text ✓");
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0640u);
  EXPECT_EQ(file_names(folder.path()), std::vector<std::string>{"doc.txt"});
}

TEST(DocumentFile, SaveThroughSymbolicLinkReplacesTarget) {
  TempFolder folder;
  const fs::path target = folder.path() / "real.txt";
  const fs::path link = folder.path() / "link.txt";
  write_bytes(target, "old");
  fs::create_symlink(target, link);
  write_file_atomic(link, "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_bytes(target), "new");
}

TEST(DocumentFile, FullDiskKeepsOriginal) {
  TempFolder folder;
  const fs::path path = folder.path() / "doc.txt";
  write_bytes(path, "the original text");
  // The child lowers its file size limit so that writing fails the way a full disk does.
  const ChildResult result = run_in_child([&](std::string& message) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      write_file_atomic(path, std::string(1 << 20, 'x'));
    } catch (const FileError& error) {
      message = error.what();
      return 0;
    }
    message = "saving succeeded although the file size limit was 4096 bytes";
    return 1;
  });
  EXPECT_EQ(result.exit_status, 0) << result.output;
  EXPECT_NE(result.output.find("the original file is unchanged"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(path.string()), std::string::npos) << result.output;
  EXPECT_EQ(read_bytes(path), "the original text");
  EXPECT_EQ(file_names(folder.path()), std::vector<std::string>{"doc.txt"});
}

TEST(DocumentFile, ReadOnlyFolderKeepsOriginal) {
  TempFolder folder;
  const fs::path locked = folder.path() / "locked";
  fs::create_directory(locked);
  const fs::path path = locked / "doc.txt";
  write_bytes(path, "the original text");
  ::chmod(folder.path().c_str(), 0755);
  ::chmod(locked.c_str(), 0555);
  const ChildResult result = run_in_child([&](std::string& message) {
    // Folder permissions do not bind root, so as root the child becomes "nobody".
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      message = "cannot drop root privileges";
      return 2;
    }
    try {
      write_file_atomic(path, "replacement");
    } catch (const FileError& error) {
      message = error.what();
      return 0;
    }
    message = "saving into a read-only folder succeeded";
    return 1;
  });
  EXPECT_EQ(result.exit_status, 0) << result.output;
  EXPECT_NE(result.output.find("Permission denied"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("the original file is unchanged"), std::string::npos) << result.output;
  EXPECT_EQ(read_bytes(path), "the original text");
  EXPECT_EQ(file_names(locked), std::vector<std::string>{"doc.txt"});
}

TEST(AutosaveJournal, WriteReadAndRestore) {
  TempFolder folder;
  const fs::path document_path = folder.path() / "notes.md";
  const fs::path journal_path = AutosaveJournal::journal_path_for(folder.path() / "journal", document_path);
  EXPECT_EQ(journal_path.parent_path(), folder.path() / "journal");
  EXPECT_TRUE(journal_path.filename().string().starts_with("notes.md-"));
  EXPECT_EQ(journal_path, AutosaveJournal::journal_path_for(folder.path() / "journal", document_path));

  Document document("Déjà vu 👨‍👩‍👧 東京 שלום\n\nline");
  document.insert(0, "New ");
  document.set_selection({4, 10});
  AutosaveJournal journal(journal_path, document_path);
  journal.write(document);

  const JournalSnapshot snapshot = AutosaveJournal::read(journal_path);
  EXPECT_EQ(snapshot.text, document.text());
  EXPECT_EQ(snapshot.document_path, document_path);
  EXPECT_EQ(snapshot.revision, document.revision());
  EXPECT_EQ(snapshot.selection, (Selection{4, 10}));
  const Document restored = restore_document(snapshot);
  EXPECT_EQ(restored.text(), document.text());
  EXPECT_EQ(restored.selection(), (Selection{4, 10}));

  journal.discard();
  EXPECT_FALSE(fs::exists(journal_path));
}

TEST(AutosaveJournal, DamagedJournalsAreReported) {
  TempFolder folder;
  Document document("some unsaved words");
  AutosaveJournal good(folder.path() / "good.journal", folder.path() / "good.txt");
  good.write(document);
  const std::string bytes = read_bytes(good.path());

  write_bytes(folder.path() / "truncated.journal", bytes.substr(0, bytes.size() - 3));
  std::string flipped = bytes;
  flipped.back() = 'X';
  write_bytes(folder.path() / "flipped.journal", flipped);
  write_bytes(folder.path() / "garbage.journal", "not a journal");
  write_bytes(folder.path() / "ignored.txt", "not a journal either");

  for (const char* name : {"truncated.journal", "flipped.journal", "garbage.journal"}) {
    EXPECT_THROW(AutosaveJournal::read(folder.path() / name), FileError) << name;
  }
  const RecoveryScan scan = find_recoverable(folder.path());
  ASSERT_EQ(scan.snapshots.size(), 1u);
  EXPECT_EQ(scan.snapshots[0].text, "some unsaved words");
  EXPECT_EQ(scan.errors.size(), 3u);
  EXPECT_TRUE(find_recoverable(folder.path() / "absent").snapshots.empty());
}

TEST(Autosaver, WritesEveryIntervalAndAfterFlush) {
  TempFolder folder;
  Document document("start");
  AutosaveJournal journal(folder.path() / "doc.journal", folder.path() / "doc.txt");
  Autosaver autosaver(document, journal, std::chrono::seconds(3));
  const auto t0 = Autosaver::Clock::time_point{} + std::chrono::hours(1);

  EXPECT_FALSE(autosaver.tick(t0));  // nothing changed yet
  document.insert(5, " one");
  EXPECT_TRUE(autosaver.tick(t0));
  EXPECT_EQ(AutosaveJournal::read(journal.path()).text, "start one");
  document.insert(9, " two");
  EXPECT_FALSE(autosaver.tick(t0 + std::chrono::seconds(1)));
  EXPECT_TRUE(autosaver.tick(t0 + std::chrono::seconds(3)));
  EXPECT_EQ(AutosaveJournal::read(journal.path()).text, "start one two");
  document.insert(13, " three");
  EXPECT_TRUE(autosaver.flush(t0 + std::chrono::seconds(4)));
  EXPECT_FALSE(autosaver.flush(t0 + std::chrono::seconds(4)));
  EXPECT_EQ(AutosaveJournal::read(journal.path()).text, "start one two three");
  autosaver.mark_saved();
  EXPECT_FALSE(fs::exists(journal.path()));
  EXPECT_FALSE(autosaver.has_unsaved_journal_changes());
}

// The edit session the killed child runs; the parent replays it to know the expected text.
void apply_session_edit(Document& document, std::mt19937& random) {
  static const std::vector<std::string> words = {"word ", "é", "👍🏽", "東京", "שלום ", "\n", ". "};
  const std::string& text = document.text();
  std::size_t position = std::uniform_int_distribution<std::size_t>(0, text.size())(random);
  while (position > 0 && position < text.size() && (static_cast<unsigned char>(text[position]) & 0xC0) == 0x80) {
    --position;
  }
  if (std::uniform_int_distribution<int>(0, 3)(random) == 0 && position < text.size()) {
    std::size_t end = position + 1;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    document.erase(position, end - position);
  } else {
    document.insert(position, words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(random)]);
  }
}

TEST(CrashRecovery, SigkillMidSessionRestoresLastAutosave) {
  TempFolder folder;
  const fs::path document_path = folder.path() / "draft.md";
  const fs::path journal_path = AutosaveJournal::journal_path_for(folder.path() / "journal", document_path);
  constexpr std::uint32_t kSeed = 7;
  const std::string initial = "Draft.\n";

  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The editing session: edits without end, autosaving after every third edit as if each
    // were an utterance, and reporting each autosaved revision to the parent.
    ::close(pipe_ends[0]);
    Document document(initial);
    AutosaveJournal journal(journal_path, document_path);
    Autosaver autosaver(document, journal, std::chrono::seconds(3));
    std::mt19937 random(kSeed);
    for (int edit = 1; edit < 1000000; ++edit) {
      apply_session_edit(document, random);
      if (edit % 3 == 0 && autosaver.flush()) {
        const std::uint64_t revision = document.revision();
        if (::write(pipe_ends[1], &revision, sizeof revision) != sizeof revision) ::_exit(3);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ::_exit(2);
  }
  ::close(pipe_ends[1]);
  std::uint64_t last_reported = 0;
  int reports = 0;
  while (reports < 60) {
    std::uint64_t revision = 0;
    ASSERT_EQ(::read(pipe_ends[0], &revision, sizeof revision), static_cast<ssize_t>(sizeof revision))
        << "the editing child stopped early";
    last_reported = revision;
    ++reports;
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(pipe_ends[0]);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  // Starting again: the journal is found and contains every edit up to the last autosave.
  const RecoveryScan scan = find_recoverable(journal_path.parent_path());
  EXPECT_TRUE(scan.errors.empty()) << scan.errors.front();
  ASSERT_EQ(scan.snapshots.size(), 1u);
  const JournalSnapshot& snapshot = scan.snapshots[0];
  EXPECT_EQ(snapshot.document_path, document_path);
  // The child may have autosaved once more after its last report reached the pipe.
  EXPECT_GE(snapshot.revision, last_reported);
  EXPECT_LE(snapshot.revision, last_reported + 3);

  Document replay(initial);
  std::mt19937 random(kSeed);
  while (replay.revision() < snapshot.revision) apply_session_edit(replay, random);
  EXPECT_EQ(restore_document(snapshot).text(), replay.text());
  EXPECT_GT(replay.size(), initial.size());
}

}  // namespace
}  // namespace utter::editor
