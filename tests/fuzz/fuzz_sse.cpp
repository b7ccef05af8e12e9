// libFuzzer target: the SSE parser (llm/sse_parser.hpp) that reads every
// provider's stream. The input is fed whole and again cut at a point the
// input chooses; the events must be the same, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "llm/sse_parser.hpp"

namespace {
std::vector<assistant::llm::SseEvent> Parse(std::string_view a, std::string_view b) {
  assistant::llm::SseParser parser;
  std::vector<assistant::llm::SseEvent> out;
  if (!parser.Feed(a, &out).ok()) return {};
  if (!parser.Feed(b, &out).ok()) return {};
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = all.empty() ? 0 : data[0] % (all.size() + 1);
  const auto whole = Parse(all, {});
  const auto split = Parse(all.substr(0, cut), all.substr(cut));
  // Where a cut lands must not change the events (docs/providers.md "Streams").
  if (whole != split) std::abort();
  return 0;
}
