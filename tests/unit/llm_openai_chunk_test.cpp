// OpenAI chunks of unusual shapes: the parser reads the common chunk without
// a JSON tree and hands everything else to the tree. Each case states what
// the reply must be, whichever way the chunk was read.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "llm/stream_parsers.hpp"

using namespace assistant;
using namespace assistant::llm;

namespace {

struct Outcome {
  std::vector<std::string> deltas;
  Status status;
  ChatResponse response;
};

// One stream: each chunk as a `data:` event, then [DONE].
Outcome Stream(const std::vector<std::string>& chunks) {
  std::string body;
  for (const std::string& c : chunks) body += "data: " + c + "\n\n";
  body += "data: [DONE]\n\n";
  Outcome o;
  OpenAiStreamParser p;
  o.status = p.Feed(body, &o.deltas);
  if (!o.status.ok()) return o;
  o.status = p.Finish(&o.deltas);
  o.response = p.response();
  return o;
}

std::vector<std::string> Texts(std::initializer_list<const char*> l) {
  return std::vector<std::string>(l.begin(), l.end());
}

}  // namespace

TEST_CASE("openai chunk: text, escapes and the fields around it") {
  Outcome o = Stream({
      R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,)"
      R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})",
      R"({"choices":[{"index":0,"delta":{"content":"Hi \"you\"\n\u00e9\ud83d\ude00"},"finish_reason":null}]})",
      R"({"choices":[{"delta":{"content":"no index"}}]})",
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null})",
  });
  REQUIRE(o.status.ok());
  CHECK(o.deltas == Texts({"Hi \"you\"\n\u00e9\U0001F600", "no index"}));
  CHECK(o.response.content == "Hi \"you\"\n\u00e9\U0001F600no index");
  CHECK(o.response.finish_reason == "length");
}

TEST_CASE("openai chunk: only choice 0 counts, wherever its index is written") {
  Outcome o = Stream({
      R"({"choices":[{"delta":{"content":"other"},"index":1,"finish_reason":"stop"},)"
      R"({"delta":{"content":"mine"},"index":0}]})",
      R"({"choices":[{"delta":{"content":" too"},"index":0.0}]})",
      R"({"choices":[{"delta":{"content":"unsigned other"},"index":18446744073709551615}]})",
      R"({"choices":[{"delta":{"content":"far other"},"index":1e300}]})",
      R"({"choices":[{"delta":{"content":"far below"},"index":-1e300}]})",
      R"({"choices":[{"index":0,"finish_reason":"stop"}]})",
  });
  REQUIRE(o.status.ok());
  CHECK(o.deltas == Texts({"mine", " too"}));
  CHECK(o.response.finish_reason == "stop");
}

TEST_CASE("openai chunk: unknown fields of any shape are skipped") {
  Outcome o = Stream({
      R"({"x":{"choices":[{"delta":{"content":"nested, not the reply"}}]},"y":[[1,{"content":"no"}],null,true],)"
      R"("choices":[{"index":0,"logprobs":{"content":[{"token":"a","bytes":[97]}]},)"
      R"("delta":{"content":"yes","refusal":null,"extra":{"content":"no"}}}]})",
  });
  REQUIRE(o.status.ok());
  CHECK(o.deltas == Texts({"yes"}));
}

TEST_CASE("openai chunk: usage in the last chunk, with non-numbers as 0") {
  Outcome o = Stream({
      R"({"choices":[{"index":0,"delta":{"content":"a"}}]})",
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3.9,"total_tokens":15,)"
      R"("prompt_tokens_details":{"cached_tokens":0}}})",
  });
  REQUIRE(o.status.ok());
  CHECK(o.response.usage.prompt_tokens == 12);
  CHECK(o.response.usage.completion_tokens == 3);

  Outcome odd = Stream({R"({"choices":[],"usage":{"prompt_tokens":"7","completion_tokens":2}})"});
  REQUIRE(odd.status.ok());
  CHECK(odd.response.usage.prompt_tokens == 0);
  CHECK(odd.response.usage.completion_tokens == 2);
}

TEST_CASE("openai chunk: odd shapes read as the whole tree reads them") {
  // A repeated key: the last value wins.
  Outcome dup = Stream({R"({"choices":[{"index":0,"delta":{"content":"first","content":"last"}}]})"});
  REQUIRE(dup.status.ok());
  CHECK(dup.deltas == Texts({"last"}));
  Outcome dup_index = Stream({R"({"choices":[{"index":0,"delta":{"content":"x"},"index":1}]})"});
  REQUIRE(dup_index.status.ok());
  CHECK(dup_index.deltas.empty());
  // A null index is index 0; content that is not a string is no text; a
  // delta or choices that are not what they should be say nothing.
  Outcome null_index = Stream({R"({"choices":[{"index":null,"delta":{"content":"z"}}]})"});
  REQUIRE(null_index.status.ok());
  CHECK(null_index.deltas == Texts({"z"}));
  Outcome odd = Stream({
      R"({"choices":[{"index":0,"delta":{"content":42}}]})",
      R"({"choices":[{"index":0,"delta":{"content":["a"]}}]})",
      R"({"choices":[{"index":0,"delta":"text"}]})",
      R"({"choices":{"index":0,"delta":{"content":"not an array"}}})",
      R"({"choices":["a",1,null]})",
      R"({"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":7}]})",
  });
  REQUIRE(odd.status.ok());
  CHECK(odd.deltas == Texts({"ok"}));
  CHECK(odd.response.finish_reason == "stop");  // 7 is no reason; [DONE] ended it
}

TEST_CASE("openai chunk: tool calls next to text") {
  Outcome o = Stream({
      R"({"choices":[{"index":0,"delta":{"content":"let me look","tool_calls":[{"index":0,"id":"call_1",)"
      R"("type":"function","function":{"name":"list_tasks","arguments":"{\"li"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"mit\":2}"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
  });
  REQUIRE(o.status.ok());
  CHECK(o.deltas == Texts({"let me look"}));
  REQUIRE(o.response.tool_calls.size() == 1);
  CHECK(o.response.tool_calls[0].id == "call_1");
  CHECK(o.response.tool_calls[0].arguments == Json{{"limit", 2}});
  CHECK(o.response.finish_reason == "tool_calls");
}

TEST_CASE("openai chunk: errors and bad JSON are still errors") {
  for (const char* chunk : {
           R"({"error":{"message":"overloaded"}})",
           R"({"choices":[{"index":0,"delta":{"content":"a"}}],"error":null})",
           R"({"choices":[{"index":0,"delta":{"content":"a"}}]} trailing)",
           R"({"choices":[{"index":0,"delta":{"content":"a"}}])",
           R"([{"choices":[]}])",
           R"("text")",
           "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xff\"}}]}",
       }) {
    CAPTURE(chunk);
    Outcome o = Stream({chunk});
    CHECK(o.status.reason() == "upstream_error");
    CHECK(o.deltas.empty());
  }
  Outcome said = Stream({R"({"error":{"message":"overloaded"}})"});
  CHECK(said.status.message().find("overloaded") != std::string::npos);

  std::string deep = R"({"choices":[{"index":0,"delta":{"content":"a"}}],"x":)";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}";
  Outcome too_deep = Stream({deep});
  CHECK(too_deep.status.reason() == "upstream_error");
  CHECK(too_deep.deltas.empty());
}
