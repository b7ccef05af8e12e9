// Opaque page cursors and page-size clamping, shared by every list call.
#ifndef ASSISTANT_SRC_COMMON_CURSOR_HPP_
#define ASSISTANT_SRC_COMMON_CURSOR_HPP_

#include <string>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::cursor {

// base64url of a small versioned payload; clients must treat it as opaque.
std::string Encode(const PagePosition& position);
// InvalidArgument (field "cursor", reason "invalid_cursor") when malformed.
Result<PagePosition> Decode(const std::string& cursor);
// Offset cursors for ranked results (search).
std::string EncodeOffset(int offset);
Result<int> DecodeOffset(const std::string& cursor);
// limit <= 0 -> 50 (the default); above 200 -> 200.
int ClampLimit(int limit);

}  // namespace assistant::cursor

#endif  // ASSISTANT_SRC_COMMON_CURSOR_HPP_
