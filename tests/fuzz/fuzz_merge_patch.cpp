// libFuzzer target: ApplyMergePatch (assistant/agent_state.hpp), RFC 7386.
// The input is two JSON texts, target and patch, split at a byte the input
// chooses. Besides not crashing, the result must hold what RFC 7386 says:
// applying the same patch again changes nothing, and an object patch's
// members are each removed (null) or merged into the result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "assistant/agent_state.hpp"
#include "assistant/types.hpp"
#include "common/json_text.hpp"

namespace {

using assistant::Json;

bool Parse(std::string_view text, Json* out) {
  // Deep nesting is refused before any parse reaches the core (json_input).
  if (assistant::JsonNestingDepth(text) > 32) return false;
  *out = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = all.empty() ? 0 : data[0] % (all.size() + 1);
  Json target;
  Json patch;
  if (!Parse(all.substr(0, cut), &target) || !Parse(all.substr(cut), &patch)) return 0;
  const Json once = assistant::ApplyMergePatch(target, patch);
  if (assistant::ApplyMergePatch(once, patch) != once) std::abort();
  if (!patch.is_object()) {
    if (once != patch) std::abort();
    return 0;
  }
  if (!once.is_object()) std::abort();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      if (once.contains(it.key())) std::abort();
    } else {
      const Json before = target.is_object() && target.contains(it.key()) ? target[it.key()] : Json();
      if (once[it.key()] != assistant::ApplyMergePatch(before, it.value())) std::abort();
    }
  }
  return 0;
}
