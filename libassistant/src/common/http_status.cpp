#include "assistant/http_status.hpp"

#include "common/error_table.hpp"
#include "common/openai_http_status.hpp"

namespace assistant {

int HttpStatusFor(const Status& status) {
  const errors::ErrorReason* e = errors::FindReason(status.reason());
  if (e != nullptr && e->http_status != 0) return e->http_status;
  return errors::HttpStatusOfKind(status.code(), !status.field().empty());
}

int OpenAiHttpStatusFor(const Status& status) {
  const int code = HttpStatusFor(status);
  return code == 422 ? 400 : code;
}

}  // namespace assistant
