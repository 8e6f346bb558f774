#include "base/files.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace dutyd {
namespace {

namespace fs = std::filesystem;

class ReadRegularFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dutyd-files-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  // The error read_regular_file throws for `p`, failing the test when it does not throw.
  static FileReadError error_of(const std::string& p, std::size_t cap = 1024) {
    try {
      read_regular_file(p, cap, "the test file");
    } catch (const FileReadError& e) {
      return e;
    }
    ADD_FAILURE() << p << " was read";
    return FileReadError(FileReadError::unreadable, "", "");
  }
  fs::path dir_;
};

TEST_F(ReadRegularFile, ReadsBytesExactly) {
  const std::string bytes("a\0b\r\n中文", 9);
  write("a.toml", bytes);
  EXPECT_EQ(read_regular_file(path("a.toml"), 1024), bytes);
  write("empty", "");
  EXPECT_EQ(read_regular_file(path("empty"), 1024), "");
}

TEST_F(ReadRegularFile, MissingFileIsNotFoundOrNullopt) {
  const FileReadError e = error_of(path("nope"));
  EXPECT_EQ(e.kind, FileReadError::not_found);
  EXPECT_NE(std::string(e.what()).find(path("nope")), std::string::npos) << e.what();
  EXPECT_NE(e.reason.find("No such file"), std::string::npos) << e.reason;
  EXPECT_FALSE(read_regular_file_if_exists(path("nope"), 1024).has_value());
  write("there", "x");
  EXPECT_EQ(read_regular_file_if_exists(path("there"), 1024), std::optional<std::string>("x"));
}

TEST_F(ReadRegularFile, FifoIsRefusedAtOnceWithoutAWriter) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const FileReadError e = error_of(path("fifo"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(e.kind, FileReadError::not_regular);
  EXPECT_NE(e.reason.find("FIFO"), std::string::npos) << e.reason;
  EXPECT_NE(e.reason.find("name a regular file"), std::string::npos) << e.reason;
}

TEST_F(ReadRegularFile, SymlinkToDevZeroIsRefused) {
  fs::create_symlink("/dev/zero", path("zero.toml"));
  const FileReadError e = error_of(path("zero.toml"), 64u << 20);
  EXPECT_EQ(e.kind, FileReadError::not_regular);
  EXPECT_NE(e.reason.find("character device"), std::string::npos) << e.reason;
}

TEST_F(ReadRegularFile, DirectoryAndSocketAreRefused) {
  fs::create_directories(path("sub"));
  EXPECT_EQ(error_of(path("sub")).kind, FileReadError::not_regular);
  EXPECT_NE(error_of(path("sub")).reason.find("directory"), std::string::npos);
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string sp = path("sock");
  ASSERT_LT(sp.size(), sizeof a.sun_path);
  std::copy(sp.begin(), sp.end(), a.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const FileReadError e = error_of(sp);
  ::close(s);
  EXPECT_EQ(e.kind, FileReadError::not_regular);
  EXPECT_NE(e.reason.find("socket"), std::string::npos) << e.reason;
}

TEST_F(ReadRegularFile, SizeCapIsExactAndNamed) {
  write("at-cap", std::string(1024, 'x'));
  EXPECT_EQ(read_regular_file(path("at-cap"), 1024).size(), 1024u);
  write("over-cap", std::string(1025, 'x'));
  const FileReadError e = error_of(path("over-cap"));
  EXPECT_EQ(e.kind, FileReadError::too_large);
  EXPECT_NE(e.reason.find("larger than 1 KiB"), std::string::npos) << e.reason;
}

TEST_F(ReadRegularFile, FilesReportingSizeZeroAreStillCapped) {
  // /proc files report st_size 0 and are read until end of file, never beyond the cap.
  const std::string self = read_regular_file("/proc/self/status", 1u << 20);
  EXPECT_NE(self.find("Pid:"), std::string::npos);
  EXPECT_EQ(error_of("/proc/self/status", 16).kind, FileReadError::too_large);
}

TEST_F(ReadRegularFile, UnreadableFileSaysSo) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
  write("secret", "x");
  fs::permissions(path("secret"), fs::perms::none);
  const FileReadError e = error_of(path("secret"));
  EXPECT_EQ(e.kind, FileReadError::unreadable);
  EXPECT_NE(e.reason.find("Permission denied"), std::string::npos) << e.reason;
}

TEST(DescribeSize, ReadsAsPeopleWriteSizes) {
  EXPECT_EQ(describe_size(512), "512 bytes");
  EXPECT_EQ(describe_size(2048), "2 KiB");
  EXPECT_EQ(describe_size(64u << 20), "64 MiB");
  EXPECT_EQ(describe_size((3u << 20) + (1u << 19)), "3.5 MiB");
}

}  // namespace
}  // namespace dutyd
