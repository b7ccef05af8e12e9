// libFuzzer target: request bodies (assistant/json_input.hpp). Whatever a
// client sends is refused with a status or parsed; a parsed document dumps
// to JSON that parses back to the same document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "assistant/json_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = assistant::ParseJsonInput(text);
  if (parsed.ok()) {
    auto again = assistant::ParseJsonInput(parsed->dump());
    if (!again.ok() || *again != *parsed) std::abort();
  }
  return 0;
}
