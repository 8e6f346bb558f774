// The baseline of bench/deliveries_bench.sh: N JSON POSTs to one URL with bare libcurl, on as many
// threads as dutyd's sending pool (SchedulerOptions::workers), each with one reused easy handle
// set up as notify::HttpSession does (no signals, timeouts, no proxy, no "Expect: 100-continue",
// the answer read into a string). Nothing else: no outbox, no rendering, no logging.
//
// usage: curl_loop URL N [--threads T] [--body-bytes B] [--multi K]
// --multi K: each thread keeps K transfers going on one curl_multi handle (perform, then poll),
// the way dutyd's sending pool drives libcurl: shows what libcurl costs in that pattern alone.
// prints one line: requests=N ok=K errors=E threads=T body_bytes=B seconds=S rps=R cpu_seconds=C
// (seconds: from before the first request to after the last; cpu_seconds: this process, user+sys)
#include <curl/curl.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
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
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--threads")
      threads = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
    else if (opt == "--body-bytes")
      body_bytes = std::strtoul(argv[i + 1], nullptr, 10);
    else if (opt == "--multi")
      multi = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
    else {
      std::fprintf(stderr, "curl_loop: unknown option %s\n", opt.c_str());
      return 64;
    }
  }
  if (total <= 0 || threads == 0) {
    std::fprintf(stderr, "curl_loop: N and --threads must be positive\n");
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
    check(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size())), "CURLOPT_POSTFIELDSIZE");
    check(curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data()), "CURLOPT_POSTFIELDS");
    check(curl_easy_setopt(e, CURLOPT_WRITEDATA, &answer), "CURLOPT_WRITEDATA");
    return easy;
  };

  auto blocking = [&] {
    std::string answer;
    Easy easy = make_handle(answer);
    while (next.fetch_add(1) < total) {
      answer.clear();
      long status = 0;
      if (curl_easy_perform(easy.get()) == CURLE_OK &&
          curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 200 &&
          status < 300)
        ++ok;
      else
        ++errors;
    }
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
      if (multi) multiplexed();
      else blocking();
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "curl_loop: %s\n", ex.what());
      failed_setup = true;
    }
  };

  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back(worker);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  curl_global_cleanup();
  std::printf(
      "requests=%ld ok=%ld errors=%ld threads=%u multi=%u body_bytes=%zu seconds=%.4f rps=%.1f "
      "cpu_seconds=%.3f\n",
      total, ok.load(), errors.load(), threads, multi, body.size(), seconds,
      static_cast<double>(total) / seconds, cpu);
  return failed_setup || errors > 0 ? 1 : 0;
}
