// Every recorded stream in tests/data/llm, fed whole, split in two at every
// byte position, and one byte at a time, must give the expected deltas and
// reply (or error) each time.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "llm/sse_parser.hpp"
#include "llm/stream_parsers.hpp"

using namespace assistant;
using namespace assistant::llm;

namespace {

std::filesystem::path DataDir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "llm";
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<ChatStreamParser> NewParser(const std::string& protocol) {
  if (protocol == "openai") return std::make_unique<OpenAiStreamParser>();
  if (protocol == "ollama") return std::make_unique<OllamaStreamParser>();
  return std::make_unique<CohereStreamParser>();
}

struct Outcome {
  std::vector<std::string> deltas;
  Status status;
  ChatResponse response;
};

Outcome Run(const std::string& protocol, const std::vector<std::string_view>& chunks) {
  Outcome o;
  auto p = NewParser(protocol);
  for (std::string_view c : chunks) {
    o.status = p->Feed(c, &o.deltas);
    if (!o.status.ok()) return o;
  }
  o.status = p->Finish(&o.deltas);
  o.response = p->response();
  return o;
}

Json ToJson(const Outcome& o, const std::string& protocol) {
  Json j = {{"protocol", protocol}, {"deltas", o.deltas}};
  if (!o.status.ok()) {
    j["error"] = o.status.reason();
    return j;
  }
  j["content"] = o.response.content;
  j["tool_calls"] = Json::array();
  for (const ToolCall& c : o.response.tool_calls) {
    j["tool_calls"].push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  }
  j["usage"] = {{"prompt_tokens", o.response.usage.prompt_tokens},
                {"completion_tokens", o.response.usage.completion_tokens}};
  j["finish_reason"] = o.response.finish_reason;
  return j;
}

struct Recording {
  std::string name;
  std::string bytes;
  Json expected;
};

std::vector<Recording> Recordings() {
  std::vector<Recording> out;
  for (const auto& entry : std::filesystem::directory_iterator(DataDir())) {
    const auto& path = entry.path();
    const std::string ext = path.extension().string();
    if (ext != ".sse" && ext != ".ndjson") continue;
    auto expected_path = path;
    expected_path.replace_extension(".expected.json");
    out.push_back({path.filename().string(), ReadFile(path),
                   Json::parse(ReadFile(expected_path))});
  }
  return out;
}

}  // namespace

TEST_CASE("llm recordings: the data set is there and covers every protocol") {
  auto recs = Recordings();
  int openai = 0, ollama = 0, cohere = 0;
  for (const auto& r : recs) {
    const std::string p = r.expected.at("protocol");
    openai += p == "openai";
    ollama += p == "ollama";
    cohere += p == "cohere";
  }
  CHECK(openai >= 5);
  CHECK(ollama >= 4);
  CHECK(cohere >= 4);
}

// The whole parser: fed whole; fed one byte at a time; and branched at every
// byte of that byte-wise feed, with the rest of the stream as one chunk.
TEST_CASE("llm recordings: same reply for every split and for one byte at a time") {
  for (const Recording& rec : Recordings()) {
    INFO("recording " << rec.name);
    const std::string protocol = rec.expected.at("protocol");
    const std::string_view all = rec.bytes;

    Outcome whole = Run(protocol, {all});
    CHECK(ToJson(whole, protocol) == rec.expected);
    for (const std::string& d : whole.deltas) {
      CHECK(assistant::text::IsValidUtf8(d));
    }
    if (whole.status.ok()) {
      std::string joined;
      for (const auto& d : whole.deltas) joined += d;
      CHECK(joined == whole.response.content);
    }

    auto bytewise = NewParser(protocol);
    Outcome prefix;  // deltas and status of the byte-wise feed so far
    for (size_t pos = 0; pos <= all.size(); ++pos) {
      if (prefix.status.ok()) {
        // Branch here: the rest as one chunk.
        Outcome o;
        o.deltas = prefix.deltas;
        auto branch = bytewise->Clone();
        o.status = branch->Feed(all.substr(pos), &o.deltas);
        if (o.status.ok()) o.status = branch->Finish(&o.deltas);
        o.response = branch->response();
        Json got = ToJson(o, protocol);
        if (got != rec.expected) {
          INFO("split at byte " << pos << ": " << got.dump());
          REQUIRE(got == rec.expected);
        }
      }
      if (pos < all.size() && prefix.status.ok()) {
        prefix.status = bytewise->Feed(all.substr(pos, 1), &prefix.deltas);
      }
    }
    if (prefix.status.ok()) prefix.status = bytewise->Finish(&prefix.deltas);
    prefix.response = bytewise->response();
    CHECK(ToJson(prefix, protocol) == rec.expected);
  }
}

TEST_CASE("llm stream: tool-call arguments that are not an object are kept raw") {
  CHECK(ParseToolArguments("") == Json::object());
  CHECK(ParseToolArguments("  \n") == Json::object());
  CHECK(ParseToolArguments(R"({"a":1})") == Json{{"a", 1}});
  CHECK(ParseToolArguments(R"("{\"a\":1}")") == Json{{"a", 1}});  // double-encoded
  CHECK(ParseToolArguments("[1,2]") == Json{{"_raw", "[1,2]"}});
  CHECK(ParseToolArguments("{\"a\":") == Json{{"_raw", "{\"a\":"}});
}

TEST_CASE("llm stream: truncated streams and garbage are upstream errors") {
  auto check_error = [](const std::string& protocol, const std::string& body) {
    Outcome o = Run(protocol, {body});
    INFO(protocol << ": " << body);
    CHECK(o.status.code() == StatusCode::kUnavailable);
    CHECK(o.status.reason() == "upstream_error");
  };
  // OpenAI: content but neither finish_reason nor [DONE].
  check_error("openai", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n");
  check_error("openai", "data: {not json}\n\n");
  check_error("openai", "");
  check_error("ollama", "{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n");
  check_error("ollama", "<html>Bad gateway</html>\n");
  // Nesting deeper than the stacks can bear is refused, not recursed into.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  check_error("openai", "data: {\"choices\":" + deep + "}\n\n");
  check_error("ollama", "{\"message\":" + deep + ",\"done\":true}\n");
  check_error("cohere", "event: content-delta\ndata: {\"type\":\"content-delta\",\"delta\":" +
                            deep + "}\n\n");
  check_error("cohere", "event: content-delta\ndata: {\"type\":\"content-delta\"}\n\n");
  check_error("cohere",
              "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\","
              "\"error\":\"internal\"}}\n\n");
}

TEST_CASE("llm stream: the error object's message is the upstream's") {
  Outcome o = Run("ollama", {"{\"error\":\"model 'x' not found\"}\n"});
  CHECK(o.status.reason() == "upstream_error");
  CHECK(o.status.message().find("model 'x' not found") != std::string::npos);
}

TEST_CASE("llm stream: an OpenAI server that omits [DONE] but finished is accepted") {
  Outcome o = Run("openai",
                  {"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
                   "\"finish_reason\":\"length\"}]}\n\n"});
  REQUIRE(o.status.ok());
  CHECK(o.response.content == "Hi");
  CHECK(o.response.finish_reason == "length");
}

TEST_CASE("llm stream: nothing after [DONE] counts") {
  Outcome o = Run("openai", {"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"},"
                             "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
                             "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"B\"}}]}\n\n"});
  REQUIRE(o.status.ok());
  CHECK(o.response.content == "A");
  CHECK(o.deltas == std::vector<std::string>{"A"});
}
