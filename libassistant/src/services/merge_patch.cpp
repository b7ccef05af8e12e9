// ApplyMergePatch (assistant/agent_state.hpp): RFC 7386 JSON merge patch,
// in its own file so that it can be fuzzed alone (tests/fuzz).
#include "assistant/agent_state.hpp"

namespace assistant {

Json ApplyMergePatch(Json target, const Json& patch) {
  // RFC 7386 section 2, literally: a non-object patch replaces the target;
  // an object patch turns a non-object target into {} and then merges
  // member by member, null meaning "remove".
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
    } else {
      Json current = target.contains(it.key()) ? std::move(target[it.key()]) : Json();
      target[it.key()] = ApplyMergePatch(std::move(current), it.value());
    }
  }
  return target;
}

}  // namespace assistant
