#include "http/target.hpp"

#include <uriparser/Uri.h>

namespace assistant::server::http {

bool SplitTarget(std::string_view target, std::string* path,
                 std::vector<std::pair<std::string, std::string>>* query) {
  const size_t q = target.find('?');
  std::string raw(target.substr(0, q));
  if (raw.find('%') != std::string::npos) {
    // Decodes in place; the result may hold NULs (%00), so its end is what
    // uriparser returns, not the first NUL.
    const char* end = uriUnescapeInPlaceExA(raw.data(), URI_FALSE, URI_BR_DONT_TOUCH);
    raw.resize(static_cast<size_t>(end - raw.data()));
  }
  *path = std::move(raw);
  query->clear();
  if (q == std::string_view::npos || q + 1 == target.size()) return true;
  const std::string_view text = target.substr(q + 1);
  UriQueryListA* list = nullptr;
  int count = 0;
  if (uriDissectQueryMallocExA(&list, &count, text.data(), text.data() + text.size(), URI_TRUE,
                               URI_BR_DONT_TOUCH) != URI_SUCCESS) {
    return false;
  }
  for (const UriQueryListA* it = list; it != nullptr; it = it->next) {
    query->emplace_back(it->key ? it->key : "", it->value ? it->value : "");
  }
  uriFreeQueryListA(list);
  return true;
}

}  // namespace assistant::server::http
