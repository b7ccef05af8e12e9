// The scope list on its own, so that what only checks scope names (the apps
// file) does not pull in the auth service.
#include <string>
#include <vector>

#include "assistant/auth.hpp"

namespace assistant {

const std::vector<std::string>& KnownScopes() {
  static const std::vector<std::string>* scopes = new std::vector<std::string>{
      "tasks:read", "tasks:write", "conversations:read", "conversations:write", "agent",
      "user:read",  "user:write",  "apps",               "keys"};
  return *scopes;
}

}  // namespace assistant
