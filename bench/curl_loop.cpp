// The baseline of bench/deliveries_bench.sh: N JSON POSTs to one URL with bare libcurl, on as many
// threads as dutyd's sending pool (SchedulerOptions::workers), each with one reused easy handle
// set up as notify::HttpSession does (no signals, timeouts, no proxy, no "Expect: 100-continue",
// the answer read into a string). Nothing else: no outbox, no rendering, no logging.
//
// usage: curl_loop URL N [--threads T] [--body-bytes B] [--multi K] [--outbox FILE]
// --multi K: each thread keeps K transfers going on one curl_multi handle (perform, then poll),
// the way dutyd's sending pool drives libcurl: shows what libcurl costs in that pattern alone.
// --outbox FILE: the loop plus a durable outbox's bookkeeping and nothing else: N rows as wide as
// dutyd's (its deliveries table's columns and indexes, WAL, synchronous=FULL) are written to
// FILE first; then a store thread claims them 1024 at a time (read in order from the due index,
// their ids one row of a claim journal, committed before they are sent) and records each result
// (the row `sent`, the journal settled; one committed transaction per batch of answers), as
// dutyd's store writer does. What the outbox alone costs next to the bare loop.
// prints one line: requests=N ok=K errors=E threads=T body_bytes=B seconds=S rps=R cpu_seconds=C
// (seconds: from before the first request to after the last; cpu_seconds: this process, user+sys)
#include <curl/curl.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

size_t append_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t ignore_header(char*, size_t size, size_t n, void*) {
  return size * n;
}

// A chat-message-shaped JSON body of exactly `bytes` octets (Chinese text, like dutyd's).
std::string make_body(std::size_t bytes) {
  const std::string head =
      R"({"title":"第六条第（一）项 研究制定年度工作计划 截止2026-12-31","text":")";
  const std::string tail = R"(","link":"http://127.0.0.1/complete?o=x","mentions":["张三"]})";
  std::string text;
  const std::string filler = "同志：请按期完成。";  // 27 octets
  while (head.size() + text.size() + tail.size() + filler.size() <= bytes) text += filler;
  while (head.size() + text.size() + tail.size() < bytes) text += 'x';
  return head + text + tail;
}

void check(CURLcode c, const char* what) {
  if (c != CURLE_OK)
    throw std::runtime_error(std::string("libcurl refused ") + what + ": " + curl_easy_strerror(c));
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The outbox of --outbox: dutyd's deliveries columns and indexes (migrations 1 and 3), filled
// with N due rows of dutyd-like widths.
class Outbox {
 public:
  Outbox(const std::string& file, long rows) {
    std::remove(file.c_str());
    std::remove((file + "-wal").c_str());
    std::remove((file + "-shm").c_str());
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK)
      throw std::runtime_error("cannot open " + file);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA cache_size=-16384");
    exec(R"sql(CREATE TABLE deliveries(
      id INTEGER PRIMARY KEY, occurrence TEXT NOT NULL, step INTEGER NOT NULL, person TEXT NOT NULL,
      channel TEXT NOT NULL, org TEXT NOT NULL, relation TEXT NOT NULL, send_at INTEGER NOT NULL,
      status TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '', sent_at INTEGER,
      created_at INTEGER NOT NULL, subject TEXT NOT NULL DEFAULT '',
      purpose TEXT NOT NULL DEFAULT 'reminder', note TEXT NOT NULL DEFAULT '',
      UNIQUE (occurrence, step, person, channel));
      CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'queued';
      CREATE INDEX deliveries_by_time ON deliveries(send_at);
      CREATE TABLE delivery_claims(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, ids TEXT NOT NULL);)sql");
    exec("BEGIN");
    sqlite3_stmt* ins = prepare(
        "INSERT INTO deliveries(occurrence, step, person, channel, org, relation, send_at, "
        "next_attempt_at, "
        "created_at, subject) VALUES (?1, 0, ?2, 'bench-hook', ?3, 'responsible', 1798592400, "
        "1798592400, "
        "1798592390, '【提醒】研究制定年度全面从严治党工作计划：2026-12-31')");
    for (long i = 0; i < rows; ++i) {
      const std::string org = "ln-" + std::to_string(i / 8);
      const std::string occ = "a6.1.plan/" + org + "/2026@dutyd";
      const std::string person = "p-" + std::to_string(i);
      sqlite3_bind_text(ins, 1, occ.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins, 2, person.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins, 3, org.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(ins) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
      sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec("COMMIT");
    claim_ = prepare(
        "SELECT id, occurrence, step, person, channel, org, relation, send_at, attempts, "
        "next_attempt_at, subject, "
        "purpose, note FROM deliveries WHERE status = 'queued' AND next_attempt_at <= ?1 AND "
        "(next_attempt_at, id) > "
        "(?3, ?4) ORDER BY next_attempt_at, id LIMIT ?2");
    journal_ = prepare("INSERT INTO delivery_claims(at, ids) VALUES (1798592400, ?1)");
    settle_ = prepare("DELETE FROM delivery_claims WHERE id = ?1");
    rewrite_ = prepare("UPDATE delivery_claims SET ids = ?2 WHERE id = ?1");
    sent_ = prepare(
        "UPDATE deliveries SET status = 'sent', sent_at = ?1 WHERE id = ?2 AND status = 'queued'");
  }
  ~Outbox() {
    for (sqlite3_stmt* st : {claim_, journal_, settle_, rewrite_, sent_}) sqlite3_finalize(st);
    sqlite3_close(db_);
  }
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Claims up to `limit` due rows, from where the last claim stopped: their ids, one row of the
  // claim journal, committed.
  std::vector<long> claim(long limit) {
    std::vector<long> ids;
    exec("BEGIN IMMEDIATE");
    sqlite3_bind_int64(claim_, 1, 1798592400);
    sqlite3_bind_int64(claim_, 2, limit);
    sqlite3_bind_int64(claim_, 3, cursor_at_);
    sqlite3_bind_int64(claim_, 4, cursor_id_);
    std::string list = "[";
    while (sqlite3_step(claim_) == SQLITE_ROW) {
      ids.push_back(static_cast<long>(sqlite3_column_int64(claim_, 0)));
      cursor_at_ = sqlite3_column_int64(claim_, 9);
      for (int c = 1; c < 13; ++c)
        row_bytes_ += static_cast<std::size_t>(sqlite3_column_bytes(claim_, c));
      if (list.size() > 1) list += ',';
      list += std::to_string(ids.back());
    }
    sqlite3_reset(claim_);
    if (!ids.empty()) {
      list += ']';
      sqlite3_bind_text(journal_, 1, list.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(journal_) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
      sqlite3_reset(journal_);
      const long claim = static_cast<long>(sqlite3_last_insert_rowid(db_));
      for (const long id : ids) claim_of_[id] = claim, open_[claim].insert(id);
      cursor_id_ = ids.back();
    }
    exec("COMMIT");
    return ids;
  }
  // Records answered rows `sent` and settles their claims (deleted when nothing is left open,
  // else listing what is), committed.
  void record(const std::vector<long>& ids) {
    exec("BEGIN IMMEDIATE");
    std::set<long> touched;
    for (const long id : ids) {
      sqlite3_bind_int64(sent_, 1, 1798592401);
      sqlite3_bind_int64(sent_, 2, id);
      if (sqlite3_step(sent_) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
      sqlite3_reset(sent_);
      const long claim = claim_of_.at(id);
      claim_of_.erase(id);
      open_[claim].erase(id);
      touched.insert(claim);
    }
    for (const long claim : touched) {
      sqlite3_stmt* st = open_[claim].empty() ? settle_ : rewrite_;
      sqlite3_bind_int64(st, 1, claim);
      std::string list;
      if (st == rewrite_) {
        list = "[";
        for (const long id : open_[claim]) {
          if (list.size() > 1) list += ',';
          list += std::to_string(id);
        }
        list += ']';
        sqlite3_bind_text(st, 2, list.c_str(), -1, SQLITE_TRANSIENT);
      } else {
        open_.erase(claim);
      }
      if (sqlite3_step(st) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
      sqlite3_reset(st);
    }
    exec("COMMIT");
  }
  long sent_rows() {
    sqlite3_stmt* q = prepare("SELECT count(*) FROM deliveries WHERE status = 'sent'");
    sqlite3_step(q);
    const long n = static_cast<long>(sqlite3_column_int64(q, 0));
    sqlite3_finalize(q);
    return n;
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string what = err ? err : "unknown error";
      sqlite3_free(err);
      throw std::runtime_error("sqlite: " + what);
    }
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    return st;
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* claim_ = nullptr;
  sqlite3_stmt* journal_ = nullptr;
  sqlite3_stmt* settle_ = nullptr;
  sqlite3_stmt* rewrite_ = nullptr;
  sqlite3_stmt* sent_ = nullptr;
  std::int64_t cursor_at_ = 0, cursor_id_ = 0;  // (next_attempt_at, id) of the last row claimed
  std::map<long, long> claim_of_;               // claimed row -> its claim
  std::map<long, std::set<long>> open_;         // claim -> its rows not yet recorded
  std::size_t row_bytes_ = 0;  // read back from each claimed row, as dutyd reads them
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s URL N [--threads T] [--body-bytes B]\n", argv[0]);
    return 64;
  }
  const std::string url = argv[1];
  const long total = std::strtol(argv[2], nullptr, 10);
  unsigned threads = 4;
  std::size_t body_bytes = 600;
  unsigned multi = 0;
  std::string outbox_file;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--threads")
      threads = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
    else if (opt == "--body-bytes")
      body_bytes = std::strtoul(argv[i + 1], nullptr, 10);
    else if (opt == "--multi")
      multi = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
    else if (opt == "--outbox")
      outbox_file = argv[i + 1];
    else {
      std::fprintf(stderr, "curl_loop: unknown option %s\n", opt.c_str());
      return 64;
    }
  }
  if (total <= 0 || threads == 0) {
    std::fprintf(stderr, "curl_loop: N and --threads must be positive\n");
    return 64;
  }
  if (multi && !outbox_file.empty()) {
    std::fprintf(stderr, "curl_loop: --multi and --outbox do not go together\n");
    return 64;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "curl_loop: curl_global_init failed\n");
    return 1;
  }
  const std::string body = make_body(body_bytes);
  std::atomic<long> next{0}, ok{0}, errors{0};
  std::atomic<bool> failed_setup{false};

  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  Slist headers(list ? curl_slist_append(list, "Expect:") : nullptr);
  if (!headers) {
    curl_slist_free_all(list);
    std::fprintf(stderr, "curl_loop: out of memory building the header list\n");
    return 1;
  }
  // One handle set up as notify::HttpSession does, its answer read into `answer`.
  auto make_handle = [&](std::string& answer) {
    Easy easy(curl_easy_init());
    if (!easy) throw std::runtime_error("curl_easy_init failed");
    CURL* e = easy.get();
    check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L), "CURLOPT_NOSIGNAL");
    check(curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L), "CURLOPT_TIMEOUT");
    check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L), "CURLOPT_CONNECTTIMEOUT");
    check(curl_easy_setopt(e, CURLOPT_PROXY, ""), "CURLOPT_PROXY");
    check(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &append_body), "CURLOPT_WRITEFUNCTION");
    check(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &ignore_header), "CURLOPT_HEADERFUNCTION");
    check(curl_easy_setopt(e, CURLOPT_URL, url.c_str()), "CURLOPT_URL");
    check(curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get()), "CURLOPT_HTTPHEADER");
    check(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size())),
          "CURLOPT_POSTFIELDSIZE");
    check(curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data()), "CURLOPT_POSTFIELDS");
    check(curl_easy_setopt(e, CURLOPT_WRITEDATA, &answer), "CURLOPT_WRITEDATA");
    return easy;
  };

  // --outbox: claimed ids wait in `ready`; answered ones gather in `answered` for the store thread.
  std::unique_ptr<Outbox> outbox;
  std::mutex outbox_mutex;
  std::condition_variable outbox_cv;
  std::deque<long> ready;
  std::vector<long> answered;
  bool all_claimed = false;
  if (!outbox_file.empty()) {
    try {
      outbox = std::make_unique<Outbox>(outbox_file, total);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "curl_loop: cannot set up the outbox %s: %s\n", outbox_file.c_str(),
                   ex.what());
      return 1;
    }
  }
  // The next request to make: a claimed row (--outbox) or just the next number; false when done.
  // Claimed ids are taken, and answered ones handed back, 16 at a time (`mine`, `told`): one lock
  // per 16 requests, so the hand-offs cost next to nothing.
  constexpr std::size_t kChunk = 16;
  auto take = [&](long& id, std::deque<long>& mine) {
    if (!outbox) {
      id = next.fetch_add(1);
      return id < total;
    }
    if (mine.empty()) {
      std::unique_lock lock(outbox_mutex);
      outbox_cv.wait(lock, [&] { return !ready.empty() || all_claimed; });
      while (!ready.empty() && mine.size() < kChunk) {
        mine.push_back(ready.front());
        ready.pop_front();
      }
      if (mine.empty()) return false;
    }
    id = mine.front();
    mine.pop_front();
    return true;
  };
  auto answer_of = [&](long id, std::vector<long>& told, bool last) {
    if (!outbox) return;
    if (id >= 0) told.push_back(id);
    if (told.size() < kChunk && !last) return;
    std::lock_guard lock(outbox_mutex);
    answered.insert(answered.end(), told.begin(), told.end());
    told.clear();
  };
  // The store thread: claims the next 1024 while fewer are waiting, records what was answered.
  auto store = [&] {
    long claimed = 0, recorded = 0;
    while (recorded < total) {
      std::vector<long> done;
      bool want = false;
      {
        std::lock_guard lock(outbox_mutex);
        done.swap(answered);
        want = claimed < total && ready.size() < 1024;
      }
      if (want) {
        const std::vector<long> ids = outbox->claim(1024);
        claimed += static_cast<long>(ids.size());
        {
          std::lock_guard lock(outbox_mutex);
          ready.insert(ready.end(), ids.begin(), ids.end());
          if (ids.empty() || claimed >= total) all_claimed = true;
        }
        outbox_cv.notify_all();
      }
      if (!done.empty()) {
        outbox->record(done);
        recorded += static_cast<long>(done.size());
      }
      if (!want && done.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };

  auto blocking = [&] {
    std::string answer;
    Easy easy = make_handle(answer);
    long id = 0;
    std::deque<long> mine;
    std::vector<long> told;
    while (take(id, mine)) {
      answer.clear();
      long status = 0;
      if (curl_easy_perform(easy.get()) == CURLE_OK &&
          curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
          status >= 200 && status < 300)
        ++ok;
      else
        ++errors;
      answer_of(id, told, false);
    }
    answer_of(-1, told, true);
  };

  auto multiplexed = [&] {
    std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> m(curl_multi_init(), &curl_multi_cleanup);
    if (!m) throw std::runtime_error("curl_multi_init failed");
    std::vector<std::string> answers(multi);
    std::vector<Easy> handles;
    for (unsigned i = 0; i < multi; ++i) handles.push_back(make_handle(answers[i]));
    std::vector<CURL*> idle;
    for (const Easy& h : handles) idle.push_back(h.get());
    std::size_t running = 0;
    for (;;) {
      while (!idle.empty() && next.fetch_add(1) < total) {
        CURL* e = idle.back();
        idle.pop_back();
        curl_multi_add_handle(m.get(), e);
        ++running;
      }
      if (running == 0) break;
      int still = 0, queued = 0, fds = 0;
      curl_multi_perform(m.get(), &still);
      bool done = false;
      while (CURLMsg* msg = curl_multi_info_read(m.get(), &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        long status = 0;
        CURL* e = msg->easy_handle;
        const CURLcode code = msg->data.result;
        curl_multi_remove_handle(m.get(), e);
        --running;
        done = true;
        if (code == CURLE_OK && curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status >= 200 && status < 300)
          ++ok;
        else
          ++errors;
        for (unsigned i = 0; i < multi; ++i)
          if (handles[i].get() == e) answers[i].clear();
        idle.push_back(e);
      }
      if (!done) curl_multi_poll(m.get(), nullptr, 0, 1000, &fds);
    }
  };

  auto worker = [&] {
    try {
      if (multi)
        multiplexed();
      else
        blocking();
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "curl_loop: %s\n", ex.what());
      failed_setup = true;
    }
  };

  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> pool;
    if (outbox)
      pool.emplace_back([&] {
        try {
          store();
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "curl_loop: outbox: %s\n", ex.what());
          failed_setup = true;
          std::lock_guard lock(outbox_mutex);
          all_claimed = true;
          ready.clear();
          outbox_cv.notify_all();
        }
      });
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back(worker);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  curl_global_cleanup();
  if (outbox && outbox->sent_rows() != total) {
    std::fprintf(stderr, "curl_loop: the outbox recorded %ld of %ld rows sent\n",
                 outbox->sent_rows(), total);
    failed_setup = true;
  }
  std::printf(
      "requests=%ld ok=%ld errors=%ld threads=%u multi=%u outbox=%s body_bytes=%zu seconds=%.4f "
      "rps=%.1f "
      "cpu_seconds=%.3f\n",
      total, ok.load(), errors.load(), threads, multi, outbox ? "yes" : "no", body.size(), seconds,
      static_cast<double>(total) / seconds, cpu);
  return failed_setup || errors > 0 ? 1 : 0;
}
