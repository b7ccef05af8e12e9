// File: assistant/assistant.hpp
//
// The umbrella header: everything a program embedding libassistant needs.
// Start with core.hpp (assistant::Assistant::Open).
#ifndef ASSISTANT_ASSISTANT_HPP_
#define ASSISTANT_ASSISTANT_HPP_

#include "assistant/agent.hpp"
#include "assistant/agent_state.hpp"
#include "assistant/apps.hpp"
#include "assistant/auth.hpp"
#include "assistant/clock.hpp"
#include "assistant/conversations.hpp"
#include "assistant/copy.hpp"
#include "assistant/core.hpp"
#include "assistant/http_status.hpp"
#include "assistant/json_input.hpp"
#include "assistant/jwt.hpp"
#include "assistant/llm.hpp"
#include "assistant/logger.hpp"
#include "assistant/mailer.hpp"
#include "assistant/observer.hpp"
#include "assistant/options.hpp"
#include "assistant/providers.hpp"
#include "assistant/settings.hpp"
#include "assistant/status.hpp"
#include "assistant/storage.hpp"
#include "assistant/storage_wrapper.hpp"
#include "assistant/tasks.hpp"
#include "assistant/tools.hpp"
#include "assistant/types.hpp"
#include "assistant/users.hpp"
#include "assistant/version.hpp"

#endif  // ASSISTANT_ASSISTANT_HPP_
