// File: assistant/json_input.hpp
//
// Parsing JSON that arrives from a client (a request body), refusing what a
// plain parse would take silently: a key given twice in one object (the
// parser would keep the last, so two readers could disagree on the value),
// text that is not UTF-8, and nesting deeper than kMaxJsonInputDepth (the parse
// and everything after it recurse). Invalid JSON, a number too large for a
// double among it, is refused with the parser's own account of the fault.
//
// Thread safety: a pure function, safe from any thread.
#ifndef ASSISTANT_JSON_INPUT_HPP_
#define ASSISTANT_JSON_INPUT_HPP_

#include <string_view>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

inline constexpr int kMaxJsonInputDepth = 64;

// The parsed document, or MalformedError (400 "malformed_request") whose
// message names the problem: nesting, ill-formed UTF-8, the duplicated key, the out-of-range number, or invalid JSON.
Result<Json> ParseJsonInput(std::string_view text);

}  // namespace assistant

#endif  // ASSISTANT_JSON_INPUT_HPP_
