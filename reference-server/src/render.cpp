#include "render.hpp"

#include "common/json_text.hpp"

namespace assistant::server {

std::string Dump(const Json& j) { return DumpJson(j); }

}  // namespace assistant::server
