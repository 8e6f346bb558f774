// Delivery over libcurl: HTTP POST for chat robots and webhooks, SMTP (STARTTLS or implicit TLS,
// AUTH) with one transfer per recipient so each recipient's result is known. Blocking: run it
// on the daemon's worker pool, never on the event loop. Results are Verdicts (response.hpp).
#pragma once

#include <curl/curl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "notifiers/messages.hpp"
#include "notifiers/response.hpp"

namespace dutyd::notify {

class CurlError : public std::runtime_error {
 public:
  CurlError(CURLcode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  CURLcode code() const { return code_; }

 private:
  CURLcode code_;
};

// One easy handle; move-only; setters throw CurlError naming the option.
class CurlEasy {
 public:
  CurlEasy();
  CurlEasy(CurlEasy&&) noexcept = default;
  CurlEasy& operator=(CurlEasy&&) noexcept = default;
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;

  void set(CURLoption option, long value, const char* name);
  void set(CURLoption option, const std::string& value, const char* name);
  void set(CURLoption option, void* value, const char* name);
  // Callbacks are passed as function pointers, as libcurl expects them.
  template <typename R, typename... A>
  void set(CURLoption option, R (*fn)(A...), const char* name) {
    if (const CURLcode c = curl_easy_setopt(handle_.get(), option, fn); c != CURLE_OK)
      throw CurlError(c, std::string("libcurl refused ") + name + ": " + curl_easy_strerror(c));
  }
  // Performs the transfer; CURLE_OK or the code, with curl's message in `error`.
  CURLcode perform(std::string& error);
  // Before a transfer driven elsewhere (CurlMulti), and its message after it failed with `c`.
  void clear_error() { error_buffer_[0] = '\0'; }
  std::string error_text(CURLcode c) const;
  long response_code() const;
  CURL* get() const { return handle_.get(); }

 private:
  struct Deleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
  };
  std::unique_ptr<CURL, Deleter> handle_;
  std::unique_ptr<char[]> error_buffer_;
};

struct TransferOptions {
  long timeout_seconds = 30;
  long connect_timeout_seconds = 10;
  std::string proxy;    // empty: none (environment variables are ignored)
  std::string ca_file;  // empty: the system's CA store
};

struct HttpResult {
  bool answered = false;  // false: transport failure, see `error`
  long status = 0;
  std::string body;
  std::string retry_after;
  std::string error;
};

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One HTTP POST on its own handle, performed either blocking (HttpSession) or by a CurlMulti
// among others; the handle is reused for the next request once this one is finished.
class HttpTransfer {
 public:
  explicit HttpTransfer(const TransferOptions& options);
  HttpTransfer(const HttpTransfer&) = delete;  // libcurl keeps pointers to its members
  HttpTransfer& operator=(const HttpTransfer&) = delete;
  // Sets the handle up for `request`, which the transfer keeps until finish().
  void start(HttpRequest request);
  // After the transfer completed with `code`: the answer, and the handle ready for start().
  HttpResult finish(CURLcode code);
  CurlEasy& easy() { return easy_; }

 private:
  struct HeaderSink {
    std::string retry_after;
  };
  CurlEasy easy_;
  HttpRequest request_;
  std::unique_ptr<curl_slist, SlistFree> headers_;
  HttpResult result_;
  HeaderSink sink_;
  static size_t read_header(char* data, size_t size, size_t n, void* user);
};

// Keeps one handle, so consecutive posts to the same host reuse the connection.
class HttpSession {
 public:
  explicit HttpSession(TransferOptions options);
  HttpResult post(const HttpRequest& request);

 private:
  HttpTransfer transfer_;
};

// Several HttpTransfers at once on the calling thread (libcurl's multi interface): one thread
// waits for many answers in one poll instead of one blocked thread per request. Connections
// are kept in the multi handle and reused by the transfers that follow.
class CurlMulti {
 public:
  CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  void add(HttpTransfer& t);
  // Drives the transfers: returns those finished (removed from the multi, with their code), or
  // waits up to timeout_ms (less when libcurl has a timer due, or after wakeup()) and returns
  // what finished meanwhile.
  std::vector<std::pair<CURL*, CURLcode>> run(int timeout_ms);
  // From any thread: makes a run() waiting in poll return now.
  void wakeup();
  std::size_t active() const { return active_; }

 private:
  std::vector<std::pair<CURL*, CURLcode>> drain();
  struct Deleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
  };
  std::unique_ptr<CURLM, Deleter> handle_;
  std::size_t active_ = 0;
};

HttpResult http_post(const HttpRequest& request, const TransferOptions& options);
// http_post then classify_http.
Verdict deliver_http(ChannelKind kind, const HttpRequest& request, const TransferOptions& options,
                     std::int64_t now_unix);

struct SmtpServer {
  std::string url;  // smtp://host:587 (STARTTLS required) or smtps://host:465 (implicit TLS)
  std::string username;
  std::string password;
  // smtp:// may go without TLS (STARTTLS is still used when offered): only for a relay on
  // this machine (loopback), never across a network.
  bool allow_plaintext = false;
};

// Keeps one connection for several recipients (libcurl reuses it between transfers).
class SmtpSession {
 public:
  SmtpSession(SmtpServer server, TransferOptions options);
  // One message to one recipient; the SMTP reply decides (classify_smtp).
  Verdict send(const std::string& envelope_from, const std::string& recipient,
               const std::string& message);

 private:
  SmtpServer server_;
  TransferOptions options_;
  CurlEasy easy_;
};

}  // namespace dutyd::notify
