#include "services/service_util.hpp"

#include <exception>

namespace assistant::services {

Status RequireScope(const Principal& p, std::string_view scope) {
  if (p.user_id.empty()) return UnauthenticatedError("authentication required");
  if (!p.HasScope(std::string(scope))) {
    return PermissionDeniedError("this credential lacks the scope " + std::string(scope));
  }
  return Status();
}

Status RequireAnyScope(const Principal& p, std::string_view a, std::string_view b) {
  if (p.user_id.empty()) return UnauthenticatedError("authentication required");
  if (!p.HasScope(std::string(a)) && !p.HasScope(std::string(b))) {
    return PermissionDeniedError("this credential lacks the scope " + std::string(a));
  }
  return Status();
}

Timestamp NowMillis(Clock& clock) { return FromUnixMillis(ToUnixMillis(clock.Now())); }

bool IsSafeName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> SerializeBounded(const Json& value, std::string_view field,
                                     size_t max_bytes) {
  std::string out;
  try {
    out = value.dump();
  } catch (const std::exception&) {
    return InvalidArgumentError(std::string(field) + " contains invalid UTF-8",
                                std::string(field));
  }
  if (out.size() > max_bytes) {
    return Status(StatusCode::kResourceExhausted,
                  std::string(field) + " is larger than " +
                      std::to_string(max_bytes / 1024) + " KiB",
                  "too_large", std::string(field));
  }
  return out;
}

std::string FoldCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace assistant::services
