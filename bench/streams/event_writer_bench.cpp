// event_writer_bench - what the run-event writer costs per flush, storage
// only: RUNS running runs on a fresh SQLite file, each flush one
// AppendRunEvents with EVENTS message.delta events per run (as
// RunRegistry's background thread sends them), FLUSHES flushes. Prints the
// CPU time of this thread (SQLite runs on it) per chunk and per event, and
// the WAL's size.
//
//   event_writer_bench [RUNS=500] [EVENTS=3] [FLUSHES=16]
//
// 500 runs x 3 events is 500 streams at ~10 tokens/s with a flush every
// 250 ms (RunOptions::flush_interval).
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "assistant/storage.hpp"

using namespace assistant;

namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 500;
  const int per_flush = argc > 2 ? std::atoi(argv[2]) : 3;
  const int flushes = argc > 3 ? std::atoi(argv[3]) : 16;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("event-writer-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "bench.db").string();
  {
    auto opened = OpenStorage("sqlite://" + db);
    Must(opened.status(), "open");
    Storage& s = **opened;
    const Timestamp now = FromUnixMillis(1'700'000'000'000);
    UserRecord u;
    u.user.id = NewId();
    u.user.email = "bench@example.com";
    u.user.name = "bench";
    u.user.created_at = u.user.updated_at = now;
    u.password_hash = "x";
    Must(s.CreateUser(u), "user");
    std::vector<Run> started;
    for (int i = 0; i < runs; ++i) {
      Conversation c;
      c.id = NewId();
      c.user_id = u.user.id;
      c.title = "bench";
      c.created_at = c.updated_at = now;
      Run r;
      r.id = NewId();
      r.user_id = u.user.id;
      r.conversation_id = c.id;
      r.message_id = NewId();
      r.status = RunStatus::kRunning;
      r.created_at = now;
      r.owner = "bench";
      Must(s.StartRun({r, c, std::nullopt}), "start");
      started.push_back(r);
    }
    int64_t next_id = 1;
    double cpu = 0;
    for (int f = 0; f < flushes; ++f) {
      std::vector<RunEventBatch> batches;
      for (const Run& r : started) {
        RunEventBatch b{u.user.id, r.id, {}};
        for (int e = 0; e < per_flush; ++e) {
          b.events.push_back(
              RunEvent{r.id, next_id + e, "message.delta", Json{{"content", " token"}}});
        }
        batches.push_back(std::move(b));
      }
      next_id += per_flush;
      const double t0 = ThreadCpuSeconds();
      Must(s.AppendRunEvents(batches), "append");
      cpu += ThreadCpuSeconds() - t0;
    }
    const double chunks = static_cast<double>(runs) * flushes;
    std::printf("runs=%d events_per_chunk=%d flushes=%d cpu_us_per_chunk=%.1f "
                "cpu_us_per_event=%.1f wal_kib=%ju\n",
                runs, per_flush, flushes, cpu / chunks * 1e6, cpu / chunks / per_flush * 1e6,
                static_cast<uintmax_t>(std::filesystem::exists(db + "-wal")
                                           ? std::filesystem::file_size(db + "-wal") / 1024
                                           : 0));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
