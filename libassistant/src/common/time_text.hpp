// FormatTime (assistant/types.hpp) without an allocation of its own, for
// renderers writing many times into one buffer. Internal.
//
// Thread safety: a pure function.
#ifndef ASSISTANT_SRC_COMMON_TIME_TEXT_HPP_
#define ASSISTANT_SRC_COMMON_TIME_TEXT_HPP_

#include <string>

#include "assistant/types.hpp"

namespace assistant {

// Appends FormatTime(t) to `out`.
void AppendFormattedTime(std::string& out, Timestamp t);

}  // namespace assistant

#endif  // ASSISTANT_SRC_COMMON_TIME_TEXT_HPP_
