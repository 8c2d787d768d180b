// `gotrace goroutines --watch` against the leak fixture, for every amd64
// build in the manifest: of its three sites (a steady leak of 10 goroutines a
// second blocked forever, churn of 200 short-lived goroutines a second, a
// stable pool of 300 parked workers) exactly the leak is a suspect, with its
// growth rate; the SVG heat map renders; the target's exit and a bad --svg
// path end the command cleanly; with --leaks (two BPF probes) the created
// and exited counts per site are exact. Reading another process's memory
// needs ptrace rights, the probes BPF rights, hence [root].
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <sstream>

#include "support/fixtures.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace::test;

namespace {

// Line numbers of the `// SITE:name` markers in the fixture's source.
std::map<std::string, int> site_lines() {
  std::ifstream in(std::string(GOTRACE_SOURCE_DIR) + "/tests/fixtures/go/leak/main.go");
  REQUIRE(in);
  std::map<std::string, int> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (auto p = line.find("// SITE:"); p != std::string::npos) out[line.substr(p + 8)] = n;
  return out;
}

bool at_line(const std::string& site, int line) {
  return site.find(fmt::format("main.go:{})", line)) != std::string::npos;
}

struct TempDir {
  std::filesystem::path dir;
  TempDir() : dir(std::filesystem::temp_directory_path() / fmt::format("gotrace-watch-{}", getpid())) {
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = 0; (p = s.find(what, p)) != std::string::npos; p += what.size()) ++n;
  return n;
}

// Runs command_for(target's pid, index) against a fresh target of each
// fixture, four fixtures at a time, each with its own gotrace: a watch costs
// its target and itself little CPU and spends its seconds waiting between
// snapshots, so one after another spent CI's time sleeping (105 s for the
// matrix). The checks run afterwards, on this thread.
std::vector<std::pair<Fixture, CommandResult>> watch_each(
    const std::vector<Fixture>& fx, const std::function<std::string(pid_t, size_t)>& command_for) {
  constexpr size_t kAtOnce = 4;
  std::vector<std::pair<Fixture, CommandResult>> done;
  for (size_t first = 0; first < fx.size(); first += kAtOnce) {
    const size_t last = std::min(fx.size(), first + kAtOnce);
    std::vector<std::unique_ptr<RunningProgram>> targets;
    for (size_t i = first; i < last; ++i) {
      INFO(fx[i].label());
      targets.push_back(
          std::make_unique<RunningProgram>(fx[i].path, std::vector<std::string>{"-duration", "60s"}));
      REQUIRE(targets.back()->wait_for_line("ready", 10000));
    }
    std::vector<std::future<CommandResult>> runs;
    for (size_t i = first; i < last; ++i)
      runs.push_back(std::async(std::launch::async, [cmd = command_for(targets[i - first]->pid(), i)] {
        return run_command(cmd);
      }));
    for (size_t i = first; i < last; ++i) done.emplace_back(fx[i], runs[i - first].get());
  }
  return done;
}

}  // namespace

TEST_CASE("gotrace goroutines --watch: only the leaking site is a suspect, at its rate", "[root][watch]") {
  auto lines = site_lines();
  auto fx = matrix_fixtures("leak");
  REQUIRE(!fx.empty());
  TempDir tmp;
  auto done = watch_each(fx, [&](pid_t pid, size_t i) {
    return fmt::format("{} goroutines -p {} --watch 250ms -d 4s --json --svg {}", GOTRACE_BINARY, pid,
                       shell_quote((tmp.dir / fmt::format("heat{}.svg", i)).string()));
  });
  for (size_t i = 0; i < done.size(); ++i) {
    const auto& [f, r] = done[i];
    INFO(f.label());
    std::string svg = (tmp.dir / fmt::format("heat{}.svg", i)).string();
    REQUIRE(r.status == 0);
    Json j = parse_json(r.out);
    CHECK(j["snapshots"].u >= 15);
    CHECK(j["snapshots"].u <= 18);
    CHECK(j["ended_by"].str == "-d");

    REQUIRE(j["suspects"].size() == 1);
    const Json& s = j["suspects"][0];
    INFO(s["site"].str);
    CHECK(at_line(s["site"].str, lines.at("created-leak")));
    CHECK(s["growth_per_min"].num >= 600 * 0.7);
    CHECK(s["growth_per_min"].num <= 600 * 1.3);
    CHECK(s["reason"].str == "chan receive");
    CHECK(s["oldest_wait_ns"].num >= 3e9);  // parked since (about) the first snapshot, 4s before the last
    REQUIRE(s["stack"].size() > 0);
    bool at_park = false;
    for (const auto& fr : s["stack"].arr)
      if (fr["func"].str == "main.leaker" && fr["line"].u == static_cast<uint64_t>(lines.at("leak-park")))
        at_park = true;
    CHECK(at_park);

    // The churn and the pool are seen, and are not suspects.
    const Json* churn = nullptr;
    const Json* pool = nullptr;
    for (const auto& site : j["sites"].arr) {
      if (at_line(site["site"].str, lines.at("created-churn"))) churn = &site;
      if (at_line(site["site"].str, lines.at("created-pool"))) pool = &site;
    }
    REQUIRE(churn);
    REQUIRE(pool);
    CHECK((*pool)["peak"].u == 300);
    CHECK((*pool)["exited"].u == 0);
    // ~4 live at any time, all new by the next snapshot 250ms later.
    CHECK((*churn)["created"].u >= 20);
    CHECK((*churn)["exited"].u >= 20);
    // The series has every site at every snapshot.
    CHECK(j["series"].size() == j["sites"].size() * j["snapshots"].u);

    // The SVG renders and has one row per site shown (the top 20).
    std::ifstream in(svg);
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK(count_of(ss.str(), "<g class=\"site\"") == std::min<size_t>(20, j["sites"].size()));
    CHECK(count_of(ss.str(), "<g ") == count_of(ss.str(), "</g>"));
    auto png = run_command(fmt::format("rsvg-convert {} -o {} 2>&1", shell_quote(svg),
                                       shell_quote((tmp.dir / "heat.png").string())));
    INFO(png.out);
    CHECK(png.status == 0);
    CHECK(std::filesystem::file_size(tmp.dir / "heat.png") > 0);
  }
}

TEST_CASE("gotrace goroutines --watch: text heat map, target exit, bad --svg", "[root][watch]") {
  auto lines = site_lines();
  auto fx = fixtures_of("leak", "amd64");
  REQUIRE(!fx.empty());
  const auto& f = fx.back();
  INFO(f.label());
  {
    RunningProgram target(f.path, {"-duration", "3s"});
    REQUIRE(target.wait_for_line("ready", 10000));
    auto start = std::chrono::steady_clock::now();
    auto r = run_command(fmt::format("{} goroutines -p {} --watch 200ms", GOTRACE_BINARY, target.pid()));
    auto took = std::chrono::steady_clock::now() - start;
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(took < std::chrono::seconds(8));
    CHECK(r.out.find("ended by the target's exit") != std::string::npos);
    CHECK(r.out.find("leak suspects") != std::string::npos);
    CHECK(r.out.find(fmt::format("main.go:{})", lines.at("created-leak"))) != std::string::npos);
    // The pool's row: full intensity all along.
    CHECK(r.out.find("@@@@@") != std::string::npos);
  }
  {
    // On a terminal, a live status line shows the watch's progress (the
    // report waits for the end); --no-status leaves it out. (script: a pty.)
    RunningProgram target(f.path, {"-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 10000));
    auto watch = [&](const char* extra) {
      return run_command(
          fmt::format("script -qec {} /dev/null",
                      shell_quote(fmt::format("{} goroutines -p {} --watch 250ms -d 2.6s --json {} "
                                              ">/dev/null",
                                              GOTRACE_BINARY, target.pid(), extra))));
    };
    auto r = watch("");
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find(" snapshots  ") != std::string::npos);
    CHECK(r.out.find(" since the first)") != std::string::npos);
    auto quiet = watch("--no-status");
    INFO(quiet.out);
    CHECK(quiet.status == 0);
    CHECK(quiet.out.find(" snapshots  ") == std::string::npos);
  }
  {
    // Ctrl-C ends the watch, which prints what it saw.
    RunningProgram target(f.path, {"-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 10000));
    auto r =
        run_command(fmt::format("timeout --preserve-status -s INT 2 {} goroutines -p {} --watch 200ms --json",
                                GOTRACE_BINARY, target.pid()));
    CHECK(r.status == 0);
    Json j = parse_json(r.out);
    CHECK(j["ended_by"].str == "Ctrl-C");
    CHECK(j["snapshots"].u >= 5);
  }
  {
    RunningProgram target(f.path, {"-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 10000));
    auto start = std::chrono::steady_clock::now();
    auto r =
        run_command(fmt::format("{} goroutines -p {} --watch 1s -d 20s --svg /nonexistent-dir/x.svg 2>&1",
                                GOTRACE_BINARY, target.pid()));
    CHECK(r.status == 3);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));  // failed before watching
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    // -d alone is a watch of that length at the default 1 s interval.
    auto watch = run_command(fmt::format("{} goroutines -p {} -d 2.5s --json", GOTRACE_BINARY, target.pid()));
    CHECK(watch.status == 0);
    Json w = parse_json(watch.out);
    CHECK(w["interval_ns"].num == Approx(1e9));
    CHECK(w["series"].size() > 0);
  }
}

TEST_CASE("gotrace goroutines --watch --leaks: exact created/exited per site, only the leak kept",
          "[root][watch][leaks]") {
  // Every release in its default build, and the stripped, PIE and cgo builds
  // of the oldest and newest: one 3s watch each (about 4s per fixture).
  auto lines = site_lines();
  auto all = fixtures_of("leak", "amd64");
  REQUIRE(!all.empty());
  const std::string oldest = all.front().version, newest = all.back().version;
  std::vector<Fixture> fx;
  for (const auto& f : all)
    if (f.variant == "default" || f.version == oldest || f.version == newest) fx.push_back(f);
  auto done = watch_each(fx, [](pid_t pid, size_t) {
    return fmt::format("{} goroutines -p {} --watch 500ms -d 3s --leaks --json", GOTRACE_BINARY, pid);
  });
  for (const auto& [f, r] : done) {
    INFO(f.label());
    REQUIRE(r.status == 0);
    Json j = parse_json(r.out);
    CHECK(j["exact"].b);
    CHECK(j["ended_by"].str == "-d");
    // The probes count from just before the first snapshot to just after
    // the last: about the watch's duration.
    const double secs = j["duration_ns"].num / 1e9;
    CHECK(secs >= 2.9);
    const Json& pc = j["probe_counters"];
    CHECK(pc["born_evicted"].u == 0);
    CHECK(pc["drop_born_table"].u == 0);
    CHECK(pc["drop_g_unreadable"].u == 0);
    CHECK(pc["goroutines_created"].u > 0);

    const Json* leak = nullptr;
    const Json* churn = nullptr;
    const Json* pool = nullptr;
    for (const auto& site : j["sites"].arr) {
      if (at_line(site["site"].str, lines.at("created-leak"))) leak = &site;
      if (at_line(site["site"].str, lines.at("created-churn"))) churn = &site;
      if (at_line(site["site"].str, lines.at("created-pool"))) pool = &site;
    }
    REQUIRE(leak);
    REQUIRE(churn);
    REQUIRE(pool);
    // Known rates: leak 10/s, churn 200/s (each living 20ms), pool 300
    // started before the watch. Tolerance: ±20% of rate × duration plus a
    // few goroutines for the probes' extra moments before and after.
    auto near = [&](uint64_t got, double rate) {
      INFO("got " << got << ", expected about " << rate * secs);
      CHECK(static_cast<double>(got) >= rate * secs * 0.8 - 3);
      CHECK(static_cast<double>(got) <= rate * secs * 1.2 + 3);
    };
    near((*leak)["created"].u, 10);
    CHECK((*leak)["exited"].u == 0);  // blocked forever: never one exit
    CHECK((*leak)["created_live"].u == (*leak)["created"].u);
    near((*churn)["created"].u, 200);
    near((*churn)["exited"].u, 200);
    // Created ≈ exited: at either end only the ~4 alive at that moment
    // differ (200/s × 20ms), counted exactly, not sampled.
    const int64_t diff =
        static_cast<int64_t>((*churn)["created"].u) - static_cast<int64_t>((*churn)["exited"].u);
    CHECK(std::abs(diff) <= 15);
    CHECK((*churn)["created_live"].u <= 15);
    CHECK((*pool)["created"].u == 0);
    CHECK((*pool)["exited"].u == 0);
    CHECK((*pool)["peak"].u == 300);

    REQUIRE(j["suspects"].size() == 1);
    const Json& s = j["suspects"][0];
    CHECK(at_line(s["site"].str, lines.at("created-leak")));
    CHECK(s["exited"].u == 0);
    CHECK(s["kept_per_min"].num >= 600 * 0.75);
    CHECK(s["kept_per_min"].num <= 600 * 1.25);
  }
}

TEST_CASE("gotrace goroutines --leaks: text columns, and --leaks needs --watch", "[root][watch][leaks]") {
  auto fx = fixtures_of("leak", "amd64");
  REQUIRE(!fx.empty());
  const auto& f = fx.back();
  INFO(f.label());
  RunningProgram target(f.path, {"-duration", "30s"});
  REQUIRE(target.wait_for_line("ready", 10000));
  auto r = run_command(
      fmt::format("{} goroutines -p {} --watch 500ms -d 2s --leaks", GOTRACE_BINARY, target.pid()));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.out.find("counted by probes at goroutine creation and exit") != std::string::npos);
  CHECK(r.out.find(" kept  site") != std::string::npos);
  CHECK(r.out.find("kept per minute") != std::string::npos);
  auto usage = run_command(fmt::format("{} goroutines -p {} --leaks 2>&1", GOTRACE_BINARY, target.pid()));
  CHECK(usage.status == 2);
  CHECK(usage.out.find("--watch") != std::string::npos);
}

TEST_CASE("gotrace goroutines --watch --svg with stdout closed: the SVG stays an SVG, exit 3",
          "[root][watch]") {
  auto fx = fixtures_of("leak", "amd64");
  REQUIRE(!fx.empty());
  TempDir tmp;
  const auto& f = fx.back();
  RunningProgram target(f.path, {"-duration", "30s"});
  REQUIRE(target.wait_for_line("ready", 10000));
  std::string svg = (tmp.dir / "closed.svg").string();
  // Before: the SVG was opened as fd 1, received the text report, and the
  // run exited 0 with a broken SVG.
  auto r =
      run_command(fmt::format("{} goroutines -p {} --watch 100ms -d 500ms --svg {} >&- 2>{}", GOTRACE_BINARY,
                              target.pid(), shell_quote(svg), shell_quote((tmp.dir / "err").string())));
  std::ifstream err(tmp.dir / "err");
  std::string err_text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO(err_text);
  CHECK(r.status == 3);
  CHECK(err_text.find("writing the report failed") != std::string::npos);
  std::ifstream in(svg);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(s.rfind("<?xml", 0) == 0);
  CHECK(s.find("</svg>") != std::string::npos);
  CHECK(s.find("watched") == std::string::npos);  // no text report in it
}
