// The C ABI's error codes (assistant.h ASSISTANT_ERR_*): one stable integer
// per error reason, and for a reason the table does not list, the code of
// its general kind (its StatusCode), both from the core's one error table
// (common/error_table.hpp). docs/c-api.md lists the table.
#ifndef ASSISTANT_BINDINGS_C_ERRORS_HPP_
#define ASSISTANT_BINDINGS_C_ERRORS_HPP_

#include "assistant/status.hpp"

namespace assistant::capi {

int ErrorCodeFor(const Status& status);
// The reason a code stands for; "ok" for 0, "unknown" for other codes.
const char* ErrorCodeName(int code);
// The highest code this build knows (codes run 1..LastErrorCode()).
int LastErrorCode();

}  // namespace assistant::capi

#endif  // ASSISTANT_BINDINGS_C_ERRORS_HPP_
