// libFuzzer target: the three streamed chat formats (llm/stream_parsers.hpp):
// OpenAI's SSE chunks, Ollama's NDJSON and Cohere's typed SSE events. The
// first byte picks the format and the second where the body is cut; the
// body fed whole and fed in two pieces must give the same deltas, the same
// reply and the same outcome, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/stream_parsers.hpp"

namespace {

using assistant::llm::ChatStreamParser;

std::unique_ptr<ChatStreamParser> NewParser(uint8_t which) {
  switch (which % 3) {
    case 0:
      return std::make_unique<assistant::llm::OpenAiStreamParser>();
    case 1:
      return std::make_unique<assistant::llm::OllamaStreamParser>();
    default:
      return std::make_unique<assistant::llm::CohereStreamParser>();
  }
}

struct Outcome {
  bool ok = false;
  std::string reason;
  std::string text;  // the deltas joined
  std::string content;
  size_t tool_calls = 0;
  bool operator==(const Outcome& o) const {
    return ok == o.ok && reason == o.reason && text == o.text && content == o.content &&
           tool_calls == o.tool_calls;
  }
};

Outcome Run(uint8_t which, const std::vector<std::string_view>& pieces) {
  std::unique_ptr<ChatStreamParser> parser = NewParser(which);
  std::vector<std::string> deltas;
  Outcome out;
  assistant::Status s;
  for (std::string_view piece : pieces) {
    s = parser->Feed(piece, &deltas);
    if (!s.ok()) break;
  }
  if (s.ok()) s = parser->Finish(&deltas);
  out.ok = s.ok();
  out.reason = s.reason();
  for (const std::string& d : deltas) out.text += d;
  if (out.ok) {
    out.content = parser->response().content;
    out.tool_calls = parser->response().tool_calls.size();
    // Every delta is part of the reply's text (docs/providers.md "Streams").
    if (out.text != out.content) std::abort();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t cut = body.empty() ? 0 : data[1] % (body.size() + 1);
  const Outcome whole = Run(data[0], {body});
  const Outcome split = Run(data[0], {body.substr(0, cut), body.substr(cut)});
  if (!(whole == split)) std::abort();
  return 0;
}
