#include "llm/sampling.hpp"

#include <cmath>

namespace assistant {

std::string Sampling::FirstSet() const {
  if (temperature) return "temperature";
  if (top_p) return "top_p";
  if (max_tokens) return "max_tokens";
  if (seed) return "seed";
  if (!stop.empty()) return "stop";
  return {};
}

namespace llm {
namespace {

constexpr size_t kMaxStopSequences = 4;

bool Within(const std::optional<double>& v, double lo, double hi) {
  return !v || (std::isfinite(*v) && *v >= lo && *v <= hi);
}

}  // namespace

Status CheckSampling(const Sampling& s, const LlmProvider& provider) {
  if (!Within(s.temperature, 0, 2)) {
    return InvalidArgumentError("temperature must be between 0 and 2", "temperature");
  }
  if (!Within(s.top_p, 0, 1)) {
    return InvalidArgumentError("top_p must be between 0 and 1", "top_p");
  }
  if (s.max_tokens && *s.max_tokens < 1) {
    return InvalidArgumentError("max_tokens must be at least 1", "max_tokens");
  }
  if (s.stop.size() > kMaxStopSequences) {
    return InvalidArgumentError("stop may hold at most 4 sequences", "stop");
  }
  for (const std::string& seq : s.stop) {
    if (seq.empty()) return InvalidArgumentError("stop sequences must not be empty", "stop");
  }
  const std::string set = s.FirstSet();
  if (!set.empty() && !provider.honours_sampling()) {
    return InvalidArgumentError(set + " is not supported by the " + provider.name() +
                                    " provider, which does not sample",
                                set, "unsupported_parameter");
  }
  return Status::Ok();
}

}  // namespace llm
}  // namespace assistant
