// File: assistant/observer.hpp
//
// What the core reports about the work it does, for metrics: agent runs,
// the model calls and tool calls inside them, and every storage write. Set Options::observer; the
// default observes nothing. Every method has an empty default, so an
// implementation overrides only what it counts.
//
// Contract: the events carry names, codes, counts and times, never message
// text or secrets. Methods are called on the core's threads, on the path
// of a turn, sometimes several at once: an implementation must be
// thread-safe, cheap (count, do not do I/O) and must not call back into
// the Assistant.
#ifndef ASSISTANT_OBSERVER_HPP_
#define ASSISTANT_OBSERVER_HPP_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "assistant/runs.hpp"

namespace assistant {

struct ProviderCallEvent {
  std::string provider;               // LlmProvider::name()
  std::chrono::nanoseconds latency{};  // the whole call, stream included
  std::string error_reason;           // Status::reason() of a failure; empty = ok
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct ToolCallEvent {
  std::string tool;
  bool ok = true;
};

struct RunFinishedEvent {
  RunStatus status = RunStatus::kCompleted;  // never kRunning
  std::chrono::nanoseconds duration{};
};

struct StorageWriteEvent {
  std::string_view operation;  // the Storage method, e.g. "CreateTask"
  std::chrono::nanoseconds latency{};
  std::string_view error_reason;  // Status::reason() of a failure; empty = ok
  // Failed as kUnavailable: the database stayed locked past the busy
  // timeout, or could not be reached.
  bool busy = false;
};

class Observer {
 public:
  virtual ~Observer() = default;
  // A turn became a run (its first event is about to be sent).
  virtual void RunStarted() {}
  virtual void RunFinished(const RunFinishedEvent&) {}
  virtual void ProviderCall(const ProviderCallEvent&) {}
  virtual void ToolCall(const ToolCallEvent&) {}
  // Each storage call that writes (a commit, or its failure). Reads are
  // not reported: they are the bulk of the calls and say little.
  virtual void StorageWrite(const StorageWriteEvent&) {}
};

// An observer that does nothing: the default of Options::observer. The
// object belongs to the library and lives for the whole program.
Observer* NullObserver();

}  // namespace assistant

#endif  // ASSISTANT_OBSERVER_HPP_
