#include "api/error_shapes.hpp"

#include "assistant/http_status.hpp"
#include "common/error_table.hpp"

namespace assistant::api {

Json ClientError(const Status& status) {
  const int code = HttpStatusFor(status);
  if (code < 500) return {{"code", status.reason()}, {"message", status.message()}};
  return {{"code", code == 500 ? std::string("internal_error") : status.reason()},
          {"message", errors::ClientMessageOfStatus(status, code)}};
}

Json ErrorEnvelope(std::string_view code, std::string_view message, std::string_view request_id,
                   std::string_view field) {
  Json err = {{"code", code}, {"message", message}, {"request_id", request_id}};
  if (!field.empty()) err["field"] = field;
  return {{"error", std::move(err)}};
}

Json ErrorEnvelope(const Status& status, std::string_view request_id) {
  const Json err = ClientError(status);
  return ErrorEnvelope(err["code"].get<std::string>(), err["message"].get<std::string>(),
                       request_id, status.field());
}

Json ErrorEventData(const Status& status) { return {{"error", ClientError(status)}}; }

Json OpenAiError(int http_status, std::string_view code, std::string_view message,
                 std::string_view field) {
  return {{"error",
           {{"message", message},
            {"type", http_status >= 500 ? "server_error" : "invalid_request_error"},
            {"param", field.empty() ? Json(nullptr) : Json(field)},
            {"code", code}}}};
}

}  // namespace assistant::api
