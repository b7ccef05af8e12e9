// The server's version: the library's, from the one version source.
#ifndef ASSISTANT_SERVER_VERSION_INFO_HPP_
#define ASSISTANT_SERVER_VERSION_INFO_HPP_

#include "assistant/version.hpp"

namespace assistant::server {
inline constexpr const char* kServerVersion = ASSISTANT_VERSION_STRING;
}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_VERSION_INFO_HPP_
