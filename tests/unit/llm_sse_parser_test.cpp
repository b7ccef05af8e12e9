// The SSE and line framing layers against the WHATWG EventSource rules.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "llm/sse_parser.hpp"

using assistant::llm::LineSplitter;
using assistant::llm::SseEvent;
using assistant::llm::SseParser;

namespace {

std::vector<SseEvent> ParseAll(const std::string& text) {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.Feed(text, &out).ok());
  p.Finish();
  return out;
}

// The same events for the whole text and for every two-way split.
std::vector<SseEvent> ParseEverySplit(const std::string& text) {
  std::vector<SseEvent> whole = ParseAll(text);
  for (size_t pos = 0; pos <= text.size(); ++pos) {
    SseParser p;
    std::vector<SseEvent> out;
    REQUIRE(p.Feed(text.substr(0, pos), &out).ok());
    REQUIRE(p.Feed(text.substr(pos), &out).ok());
    p.Finish();
    INFO("split at " << pos);
    REQUIRE(out == whole);
  }
  return whole;
}

SseEvent Ev(std::string event, std::string data, std::string id = "") {
  SseEvent e;
  e.event = std::move(event);
  e.data = std::move(data);
  e.id = std::move(id);
  return e;
}

}  // namespace

TEST_CASE("sse: data lines join with newlines and a blank line dispatches") {
  auto evs = ParseEverySplit("data: first\ndata:second\ndata:  two spaces\n\n");
  REQUIRE(evs.size() == 1);
  CHECK(evs[0] == Ev("message", "first\nsecond\n two spaces"));
}

TEST_CASE("sse: event names, ids and retry persist as the spec says") {
  auto evs = ParseEverySplit(
      "retry: 1500\nid: 7\nevent: content-delta\ndata: {\"a\":1}\n\n"
      "data: no name\n\n"
      "id\ndata: id cleared\n\n"
      "retry: soon\n\n");
  REQUIRE(evs.size() == 3);
  CHECK(evs[0] == Ev("content-delta", "{\"a\":1}", "7"));
  CHECK(evs[1] == Ev("message", "no name", "7"));  // the id stays in force
  CHECK(evs[2] == Ev("message", "id cleared", ""));
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.Feed("retry: 1500\nretry: soon\n\n", &out).ok());
  CHECK(p.retry_ms() == 1500);  // an invalid retry is ignored
}

TEST_CASE("sse: comments, unknown fields and data-less events dispatch nothing") {
  auto evs = ParseEverySplit(": keep-alive\n\nevent: ping\n\nfoo: bar\n\n:\n\n");
  CHECK(evs.empty());
  // A field name alone is a field with an empty value: "data" gives "".
  evs = ParseEverySplit("data\n\n");
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].data.empty());
  // A colon without a space keeps the rest as is.
  evs = ParseEverySplit("data:x: y\n\n");
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].data == "x: y");
}

TEST_CASE("sse: CR, LF and CRLF all end lines, even split between CR and LF") {
  auto evs = ParseEverySplit("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\n");
  REQUIRE(evs.size() == 4);
  CHECK(evs[0].data == "a");
  CHECK(evs[1].data == "b");
  CHECK(evs[2].data == "c");
  CHECK(evs[3].data == "d");
}

TEST_CASE("sse: a leading BOM is skipped, one elsewhere is data") {
  auto evs = ParseEverySplit("\xEF\xBB\xBF" "data: x\n\ndata: \xEF\xBB\xBFy\n\n");
  REQUIRE(evs.size() == 2);
  CHECK(evs[0].data == "x");
  CHECK(evs[1].data == "\xEF\xBB\xBFy");
  // Only one BOM is removed; a second makes the first line's name garbage.
  evs = ParseEverySplit("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\ndata: z\n\n");
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].data == "z");
}

TEST_CASE("sse: an event cut off by the end of the stream is discarded") {
  CHECK(ParseAll("data: complete\n\ndata: cut off\n").size() == 1);
  CHECK(ParseAll("data: cut off").empty());
}

TEST_CASE("sse: a multi-byte character split across chunks arrives whole") {
  const std::string text = "data: \xF0\x9F\x91\x8B \xE4\xBD\xA0\n\n";  // 👋 你
  for (size_t pos = 0; pos <= text.size(); ++pos) {
    SseParser p;
    std::vector<SseEvent> out;
    REQUIRE(p.Feed(text.substr(0, pos), &out).ok());
    // Nothing is dispatched before the blank line, so no half character.
    if (pos < text.size()) CHECK(out.empty());
    REQUIRE(p.Feed(text.substr(pos), &out).ok());
    REQUIRE(out.size() == 1);
    CHECK(out[0].data == "\xF0\x9F\x91\x8B \xE4\xBD\xA0");
  }
}

TEST_CASE("lines: an over-long line is an upstream error, not unbounded memory") {
  LineSplitter lines;
  std::string big(1024 * 1024, 'x');
  assistant::Status s;
  for (int i = 0; i < 9 && s.ok(); ++i) s = lines.Feed(big, [](std::string_view) {});
  CHECK(s.code() == assistant::StatusCode::kUnavailable);
  CHECK(s.reason() == "upstream_error");
}

TEST_CASE("lines: the unterminated last line comes out at Finish") {
  LineSplitter lines;
  std::vector<std::string> got;
  auto sink = [&](std::string_view l) { got.emplace_back(l); };
  REQUIRE(lines.Feed("a\r", sink).ok());
  REQUIRE(lines.Feed("\nb\n\nc", sink).ok());
  lines.Finish(sink);
  CHECK(got == std::vector<std::string>{"a", "b", "", "c"});
}
