#include "render.hpp"

#include "assistant/http_status.hpp"

namespace assistant::server {

Json ErrorJson(std::string_view code, std::string_view message, std::string_view request_id,
               std::string_view field) {
  Json err = {{"code", code}, {"message", message}, {"request_id", request_id}};
  if (!field.empty()) err["field"] = field;
  return {{"error", std::move(err)}};
}

Json ClientError(const Status& status) {
  const int code = HttpStatusFor(status);
  if (code < 500) return {{"code", status.reason()}, {"message", status.message()}};
  const char* message = "internal error";
  switch (code) {
    case 502: message = "the upstream service failed"; break;
    case 503: message = "the service is unavailable; retry shortly"; break;
    case 504: message = "the upstream service timed out"; break;
    default: break;
  }
  return {{"code", code == 500 ? std::string("internal_error") : status.reason()},
          {"message", message}};
}

std::string Dump(const Json& j) { return DumpJson(j); }

}  // namespace assistant::server
