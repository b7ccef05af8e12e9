#include "render.hpp"

namespace assistant::server {

std::string Dump(const Json& j) { return DumpJson(j); }

}  // namespace assistant::server
