// fake_llm_upstream: serves recorded LLM streams over loopback HTTP for
// end-to-end tests of the servers (--llm-provider openai|ollama|cohere).
//
//   fake_llm_upstream --protocol openai --reply tests/data/llm/openai_text_utf8.sse
//                     [--chunk-delay MS]   (a slow stream, for the browser tests)
//
// Prints the base URL on the first line of stdout, then answers every chat
// request with the next --reply file (the last one repeats) until stopped.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <csignal>
#include <ctime>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "fake_upstream/fake_upstream.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  std::string protocol = "openai";
  std::vector<std::string> files;
  int chunk_delay_ms = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--protocol" && i + 1 < argc) {
      protocol = argv[++i];
    } else if (arg == "--chunk-delay" && i + 1 < argc) {
      chunk_delay_ms = std::atoi(argv[++i]);
    } else if (arg == "--reply" && i + 1 < argc) {
      files.push_back(argv[++i]);
    } else {
      std::cerr << "usage: fake_llm_upstream --protocol openai|ollama|cohere --reply FILE...\n";
      return 2;
    }
  }
  if (files.empty() || (protocol != "openai" && protocol != "ollama" && protocol != "cohere")) {
    std::cerr << "usage: fake_llm_upstream --protocol openai|ollama|cohere --reply FILE...\n";
    return 2;
  }
  std::vector<std::string> bodies;
  try {
    for (const auto& f : files) bodies.push_back(fake_upstream::ReadFile(f));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  fake_upstream::FakeUpstream fake(protocol);
  std::cout << fake.base_url() << std::endl;
  size_t queued = 0;
  while (!g_stop) {
    // Keep a few replies queued ahead of the requests.
    while (queued < static_cast<size_t>(fake.request_count()) + 4) {
      fake_upstream::Reply reply;
      reply.body = bodies[std::min(queued, bodies.size() - 1)];
      reply.chunk_delay = std::chrono::milliseconds(chunk_delay_ms);
      fake.Enqueue(std::move(reply));
      ++queued;
    }
    struct timespec ts {0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return 0;
}
