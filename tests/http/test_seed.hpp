// The seed of a randomized test: ASSISTANT_TEST_SEED when set (to replay a
// seed a failed run printed), else a fresh one.
#pragma once

#include <cstdlib>
#include <random>
#include <string>

inline unsigned TestSeed() {
  if (const char* s = std::getenv("ASSISTANT_TEST_SEED"); s != nullptr && *s != '\0') {
    return static_cast<unsigned>(std::stoul(s));
  }
  return std::random_device{}();
}
