// library_bench: what the core costs per operation, without HTTP.
//
// Figures: access-token verification (HS256, EdDSA) per second, task create
// and list on a SQLite file, one rules-agent turn, and the hot path of an
// authenticated request: verify a token + list a user's 20 tasks.
// Each figure is the median of ROUNDS rounds (default 5), in wall time and in
// the CPU time of the calling thread. On a machine shared with other work the
// wall time stretches with the load; the thread's CPU time does not, so it is
// the figure to compare between runs there. (Work handed to other threads,
// such as the password pool behind login, is not in the CPU figure.)
//
// Run: build/bin/library_bench [rounds] [filter]
//   filter: only figures whose name contains it (e.g. "agent"), for profiling.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "assistant/assistant.hpp"

namespace {

using Clock = std::chrono::steady_clock;

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct PerOp {
  double wall_ns;
  double cpu_ns;  // this thread's CPU time
};

// Runs `op` repeatedly for ~`budget` and returns nanoseconds per operation.
PerOp NsPerOp(const std::function<void()>& op, std::chrono::milliseconds budget) {
  int64_t n = 0;
  const int64_t cpu_start = ThreadCpuNs();
  auto start = Clock::now();
  auto deadline = start + budget;
  while (Clock::now() < deadline) {
    for (int i = 0; i < 16; ++i) op();
    n += 16;
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  const int64_t cpu_ns = ThreadCpuNs() - cpu_start;
  return {static_cast<double>(ns) / static_cast<double>(n),
          static_cast<double>(cpu_ns) / static_cast<double>(n)};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string g_filter;

void Report(const char* name, int rounds, const std::function<void()>& op,
            std::chrono::milliseconds budget = std::chrono::milliseconds(400)) {
  if (!g_filter.empty() && std::string(name).find(g_filter) == std::string::npos) return;
  std::vector<double> ns, cpu;
  for (int r = 0; r < rounds; ++r) {
    const PerOp p = NsPerOp(op, budget);
    ns.push_back(p.wall_ns);
    cpu.push_back(p.cpu_ns);
  }
  double med = Median(ns);
  auto [lo, hi] = std::minmax_element(ns.begin(), ns.end());
  std::printf("%-44s %12.0f ops/s  %10.2f us/op  (min %.2f, max %.2f us)  cpu %.2f us/op\n",
              name, 1e9 / med, med / 1000.0, *lo / 1000.0, *hi / 1000.0, Median(cpu) / 1000.0);
}

template <typename R>
auto Must(R r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void MustOk(const assistant::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  if (rounds < 1) rounds = 1;
  if (argc > 2) g_filter = argv[2];
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("assistant-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  std::printf("libassistant %s library benchmark, median of %d rounds\n", assistant::Version(),
              rounds);

  // --- token verification, alone
  for (auto alg : {assistant::JwtAlgorithm::kHS256, assistant::JwtAlgorithm::kEdDSA}) {
    auto ring = Must(alg == assistant::JwtAlgorithm::kHS256
                         ? assistant::KeyRing::Hs256("bench-secret-0123456789abcdef0123456789")
                         : assistant::KeyRing::EphemeralEd25519(),
                     "key ring");
    auto now = std::chrono::system_clock::now();
    int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::string token = Must(ring->Sign({{"sub", "u"}, {"sid", "s"}, {"iat", now_s},
                                         {"exp", now_s + 900}, {"iss", "libassistant"},
                                         {"aud", "libassistant"}, {"scope", "*"}}),
                             "sign");
    assistant::JwtVerifyOptions vo;
    vo.issuer = "libassistant";
    vo.audience = "libassistant";
    vo.now = now;
    std::string name = std::string("jwt verify ") + assistant::JwtAlgorithmName(alg);
    Report(name.c_str(), rounds, [&] { Must(ring->Verify(token, vo), "verify"); });
  }

  // --- the core on a SQLite file
  for (auto alg : {assistant::JwtAlgorithm::kHS256, assistant::JwtAlgorithm::kEdDSA}) {
    assistant::Options options;
    std::string db = (dir / (std::string("bench-") + assistant::JwtAlgorithmName(alg) + ".db")).string();
    options.database_url = "sqlite://" + db;
    options.outbox_path = (dir / "outbox.jsonl").string();
    options.auth.jwt_algorithm = alg;
    options.auth.jwt_secret = "bench-secret-0123456789abcdef0123456789";
    auto core = Must(assistant::Assistant::Open(options), "open");
    assistant::RequestContext ctx;
    auto reg = Must(core->auth().Register({"bench@example.com", "bench-password-1", "Bench"}, ctx),
                    "register");
    auto me = Must(core->auth().Authenticate(reg.tokens.access_token), "authenticate");
    for (int i = 0; i < 20; ++i) {
      Must(core->tasks().Create(me, {"seed task " + std::to_string(i)}), "seed");
    }
    std::string suffix = std::string(" (") + assistant::JwtAlgorithmName(alg) + ")";

    Report(("authenticate access token" + suffix).c_str(), rounds,
           [&] { Must(core->auth().Authenticate(reg.tokens.access_token), "auth"); });
    Report(("authenticate + list 20 tasks" + suffix).c_str(), rounds, [&] {
      auto p = Must(core->auth().Authenticate(reg.tokens.access_token), "auth");
      auto page = Must(core->tasks().List(p, {}), "list");
      if (page.items.size() != 20) std::abort();
    });
    if (alg != assistant::JwtAlgorithm::kHS256) continue;

    Report("list 20 tasks", rounds, [&] { Must(core->tasks().List(me, {}), "list"); });
    // Creates go to a second user so the first keeps exactly 20 tasks.
    auto reg2 = Must(core->auth().Register({"bench2@example.com", "bench-password-1", "B"}, ctx),
                     "register");
    auto me2 = Must(core->auth().Authenticate(reg2.tokens.access_token), "authenticate");
    Report("create task (synchronous=NORMAL)", rounds,
           [&] { Must(core->tasks().Create(me2, {"bench task"}), "create"); });

    std::string conv;
    Report("rules agent turn \"list tasks\"", rounds, [&] {
      assistant::AgentRequest req;
      req.message = "list tasks";
      if (!conv.empty()) req.conversation_id = conv;
      auto reply = Must(core->agent().Send(me, req, ctx), "agent");
      conv = reply.conversation_id;
    });
  }

  // --- password hashing at the configured (OWASP minimum) cost
  {
    assistant::Options options;
    options.database_url = "sqlite::memory:";
    options.outbox_path = (dir / "outbox.jsonl").string();
    options.auth.jwt_secret = "bench-secret-0123456789abcdef0123456789";
    auto core = Must(assistant::Assistant::Open(options), "open");
    assistant::RequestContext ctx;
    MustOk(core->auth().Register({"pw@example.com", "bench-password-1", "P"}, ctx).status(),
           "register");
    Report("login (Argon2id m=19MiB t=2 p=1)", rounds > 3 ? 3 : rounds, [&] {
      Must(core->auth().Login("pw@example.com", "bench-password-1", ctx), "login");
    }, std::chrono::milliseconds(1000));
  }

  fs::remove_all(dir);
  return 0;
}
