// libFuzzer target: page cursor decoding (common/cursor.hpp), which reads
// a client's opaque `cursor` query parameter. A cursor that decodes must
// encode back to one that decodes to the same position.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/cursor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto position = assistant::cursor::Decode(text);
  if (position.ok()) {
    auto again = assistant::cursor::Decode(assistant::cursor::Encode(*position));
    if (!again.ok() || again->time != position->time || again->id != position->id) std::abort();
  }
  auto offset = assistant::cursor::DecodeOffset(text);
  if (offset.ok()) {
    auto again = assistant::cursor::DecodeOffset(assistant::cursor::EncodeOffset(*offset));
    if (!again.ok() || *again != *offset) std::abort();
  }
  return 0;
}
