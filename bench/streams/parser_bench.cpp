// parser_bench: CPU per streamed token of the OpenAI stream parser, for the
// chunk every token arrives in, read the common way (no JSON tree) and, as
// the peer in the same run, read as a tree (the same chunk plus
// "tool_calls":null, which sends it down the tree path: what every chunk
// cost before).
//
//   parser_bench [rounds]   (default 5; prints medians of the rounds)
//
// Figures are this thread's CPU time, which load on a shared machine moves
// far less than wall time.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "llm/stream_parsers.hpp"

namespace {

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// A chunk as bench/streams' upstream (and OpenAI) sends one token.
std::string Chunk(bool tree) {
  return std::string(
             "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
             "\"created\":1763800000,\"model\":\"bench\",\"choices\":[{\"index\":0,"
             "\"delta\":{\"content\":\"1763812345678901234 \"") +
         (tree ? ",\"tool_calls\":null" : "") + "},\"finish_reason\":null}]}\n\n";
}

// Nanoseconds of CPU per chunk fed, over `chunks` chunks.
double NsPerChunk(const std::string& chunk, int chunks) {
  assistant::llm::OpenAiStreamParser parser;
  std::vector<std::string> deltas;
  size_t text = 0;
  const int64_t start = ThreadCpuNs();
  for (int i = 0; i < chunks; ++i) {
    if (!parser.Feed(chunk, &deltas).ok()) {
      std::fprintf(stderr, "parser_bench: the chunk did not parse\n");
      std::exit(1);
    }
    for (const std::string& d : deltas) text += d.size();
    deltas.clear();
  }
  const int64_t ns = ThreadCpuNs() - start;
  if (text == 0) {
    std::fprintf(stderr, "parser_bench: no text came out\n");
    std::exit(1);
  }
  return static_cast<double>(ns) / chunks;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  constexpr int kChunks = 200000;
  std::vector<double> common, tree;
  for (int r = 0; r < rounds; ++r) {
    // Interleaved, so both see the same load.
    common.push_back(NsPerChunk(Chunk(false), kChunks));
    tree.push_back(NsPerChunk(Chunk(true), kChunks));
  }
  const double c = Median(common);
  const double t = Median(tree);
  std::printf("openai chunk, common path   %8.0f ns CPU per token\n", c);
  std::printf("openai chunk, as a JSON tree %7.0f ns CPU per token\n", t);
  std::printf("ratio tree / common          %8.2f  (median of %d rounds, %d chunks each)\n",
              t / c, rounds, kChunks);
  return 0;
}
