// Text hygiene shared by every service: UTF-8 validation, control-character
// stripping, lengths in characters (code points), e-mail normalisation.
#ifndef ASSISTANT_SRC_COMMON_TEXT_HPP_
#define ASSISTANT_SRC_COMMON_TEXT_HPP_

#include <cstddef>
#include <string>
#include <string_view>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::text {

// Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s);
// Code points in valid UTF-8.
size_t CharCount(std::string_view s);
// Removes C0 controls, DEL and C1 controls (U+0080..U+009F). Multi-line text
// keeps tab and newline (CRLF becomes LF). REQUIRES: valid UTF-8.
std::string StripControl(std::string_view s, bool multi_line);
// The whole pipeline for one field: invalid UTF-8 -> MalformedError
// ("invalid UTF-8 in <field>"); strip controls; single-line text is trimmed of
// surrounding whitespace; then InvalidArgument naming `field` when the
// character count is outside [min_chars, max_chars].
Result<std::string> CleanText(std::string_view in, std::string_view field,
                              size_t min_chars, size_t max_chars, bool multi_line);
// Trimmed and ASCII-lower-cased. Returns "" when it does not look like an
// address (one '@', something on both sides, no whitespace, <= 254 chars).
std::string NormalizeEmail(std::string_view email);

// The nesting accepted in JSON from outside (request bodies, LLM streams,
// tokens, tool arguments). nlohmann's copy, compare and dump recurse once per
// level and server threads run on small stacks (docs/server.md, "Worker
// model"), so deeper documents are refused before they are parsed.
inline constexpr int kMaxJsonDepth = 64;

// Json::parse without exceptions: a discarded value when `text` is not JSON
// or nests deeper than kMaxJsonDepth.
Json ParseJsonBounded(std::string_view text);

}  // namespace assistant::text

#endif  // ASSISTANT_SRC_COMMON_TEXT_HPP_
