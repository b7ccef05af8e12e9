// ObservedStorage: tells an Observer the latency and outcome of every
// storage call that writes. The core puts it around the storage only when
// Options::observer is set, so an embedder without one pays nothing.
#ifndef ASSISTANT_SRC_CORE_OBSERVED_STORAGE_HPP_
#define ASSISTANT_SRC_CORE_OBSERVED_STORAGE_HPP_

#include <memory>

#include "assistant/observer.hpp"
#include "assistant/storage.hpp"

namespace assistant {

// REQUIRES: target and observer are not null; observer outlives the result.
std::shared_ptr<Storage> NewObservedStorage(std::shared_ptr<Storage> target, Observer* observer);

}  // namespace assistant

#endif  // ASSISTANT_SRC_CORE_OBSERVED_STORAGE_HPP_
