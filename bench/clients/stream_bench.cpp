// stream_bench: one streamed agent turn through AgentClient against the
// same turn through curl, on a running assistant-server.
//
//   build/bin/assistant-server --database sqlite::memory: --rate-limit-api 0 &
//   build/bin/client_stream_bench http://127.0.0.1:8000 [turns]
//
// Both read the whole SSE stream of POST /api/agent/message with the
// built-in rules agent. Prints the median wall time per turn of each and
// their ratio (docs/performance.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "assistant/client/agent_client.hpp"
#include "assistant/client/auth_client.hpp"

namespace client = assistant::client;
using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: client_stream_bench BASE_URL [turns]\n");
    return 2;
  }
  const int turns = argc > 2 ? std::atoi(argv[2]) : 200;
  client::ClientOptions options;
  options.base_url = argv[1];
  client::AuthClient auth(options);
  const std::string email = "bench" + std::to_string(std::rand()) + "@example.com";
  if (!auth.Register(email, "correct horse battery").ok()) {
    std::fprintf(stderr, "cannot register at %s\n", argv[1]);
    return 1;
  }
  client::AgentClient agent(auth);
  auto token = auth.AccessToken();
  const std::string curl = "curl -sN -o /dev/null " + std::string(argv[1]) +
                           "/api/agent/message -H 'Authorization: Bearer " + *token +
                           "' -H 'Content-Type: application/json' -d "
                           "'{\"message\":\"what is on my list?\",\"stream\":true}'";
  std::vector<double> lib_ms, curl_ms;
  for (int i = 0; i < turns; ++i) {
    auto start = Clock::now();
    auto reply = agent.Stream("what is on my list?", [](const client::StreamEvent&) { return true; });
    if (!reply.ok()) {
      std::fprintf(stderr, "turn failed: %s\n", reply.status().ToString().c_str());
      return 1;
    }
    lib_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    start = Clock::now();
    if (std::system(curl.c_str()) != 0) return 1;
    curl_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  const double lib = Median(lib_ms), cu = Median(curl_ms);
  std::printf("streamed turn, median wall time of %d, interleaved\n", turns);
  std::printf("  AgentClient::Stream  %7.2f ms\n", lib);
  std::printf("  curl -N              %7.2f ms   (AgentClient: %.2fx curl)\n", cu, lib / cu);
  return 0;
}
