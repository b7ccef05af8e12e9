// The checks on a turn's sampling settings (assistant/llm.hpp Sampling),
// shared by every caller that hands them to a provider.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SRC_LLM_SAMPLING_HPP_
#define ASSISTANT_SRC_LLM_SAMPLING_HPP_

#include "assistant/llm.hpp"
#include "assistant/status.hpp"

namespace assistant::llm {

// InvalidArgument naming the field (temperature, top_p, max_tokens, stop)
// when a value is out of range; a provider that cannot honour sampling
// (LlmProvider::honours_sampling) refuses any field set, with reason
// "unsupported_parameter".
Status CheckSampling(const Sampling& sampling, const LlmProvider& provider);

}  // namespace assistant::llm

#endif  // ASSISTANT_SRC_LLM_SAMPLING_HPP_
