// The default mailer: JSON lines in a private outbox file.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "assistant/mailer.hpp"
#include "assistant/types.hpp"
#include "test_temp_dir.hpp"

using namespace assistant;

TEST_SUITE("auth") {

TEST_CASE("the outbox mailer appends one private JSON line per message") {
  std::string dir = MakeTestTempDir("outbox");
  std::string path = dir + "/outbox.jsonl";

  auto mailer = NewOutboxMailer(path);
  MailMessage m{"ann@example.com", "Reset your password", "line one\nline two", "password_reset",
                "tok-123"};
  REQUIRE(mailer->Send(m).ok());
  m.kind = "email_verification";
  m.token = "tok-456";
  REQUIRE(mailer->Send(m).ok());

  struct stat st{};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(path);
  std::string line;
  std::vector<Json> lines;
  while (std::getline(in, line)) lines.push_back(Json::parse(line));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["to"] == "ann@example.com");
  CHECK(lines[0]["subject"] == "Reset your password");
  CHECK(lines[0]["body"] == "line one\nline two");
  CHECK(lines[0]["kind"] == "password_reset");
  CHECK(lines[0]["token"] == "tok-123");
  CHECK(ParseTime(lines[0]["time"].get<std::string>()).has_value());
  CHECK(lines[1]["kind"] == "email_verification");
  CHECK(lines[1]["token"] == "tok-456");

  // An unwritable outbox is an error the caller sees.
  auto broken = NewOutboxMailer(dir + "/missing-dir/outbox.jsonl");
  CHECK(broken->Send(m).code() == StatusCode::kUnavailable);
}

}  // TEST_SUITE
