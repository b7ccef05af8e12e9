// assistant_open's settings (docs/c-api.md "Settings"): the server's
// settings by the same names, as a JSON object, turned into the core's
// Options. An unknown or ill-typed setting fails naming it; everything
// else (the secret, file places, production refusals) is decided by the
// core's settings layer when Assistant::Open applies it.
#ifndef ASSISTANT_BINDINGS_C_CONFIG_HPP_
#define ASSISTANT_BINDINGS_C_CONFIG_HPP_

#include "assistant/options.hpp"
#include "assistant/status.hpp"

namespace assistant::capi {

Result<Options> OptionsFromConfig(const Json& config);

}  // namespace assistant::capi

#endif  // ASSISTANT_BINDINGS_C_CONFIG_HPP_
