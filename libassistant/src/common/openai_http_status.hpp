// HttpStatusFor (assistant/http_status.hpp) for the server's
// OpenAI-compatible surface. Internal: only that surface uses it.
//
// Thread safety: a pure function.
#ifndef ASSISTANT_SRC_COMMON_OPENAI_HTTP_STATUS_HPP_
#define ASSISTANT_SRC_COMMON_OPENAI_HTTP_STATUS_HPP_

#include "assistant/status.hpp"

namespace assistant {

// OpenAI's API answers every invalid request with 400, and its SDKs raise
// BadRequestError for it (UnprocessableEntityError for a 422), so 422
// becomes 400; every other status is HttpStatusFor's.
int OpenAiHttpStatusFor(const Status& status);

}  // namespace assistant

#endif  // ASSISTANT_SRC_COMMON_OPENAI_HTTP_STATUS_HPP_
