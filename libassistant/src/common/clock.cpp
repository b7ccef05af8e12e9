#include "assistant/clock.hpp"

namespace assistant {

namespace {
class SystemClock final : public Clock {
 public:
  Timestamp Now() override { return std::chrono::system_clock::now(); }
};
}  // namespace

Clock* Clock::Default() {
  static SystemClock* clock = new SystemClock();  // never destroyed: outlives every user
  return clock;
}

}  // namespace assistant
