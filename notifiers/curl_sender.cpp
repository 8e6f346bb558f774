#include "notifiers/curl_sender.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

namespace dutyd::notify {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw CurlError(CURLE_FAILED_INIT, "libcurl could not initialise (curl_global_init)");
  });
}

using Slist = std::unique_ptr<curl_slist, SlistFree>;

Slist make_slist(const std::vector<std::string>& items) {
  curl_slist* head = nullptr;
  for (const auto& s : items) {
    curl_slist* next = curl_slist_append(head, s.c_str());
    if (!next) {
      curl_slist_free_all(head);
      throw CurlError(CURLE_OUT_OF_MEMORY, "out of memory building a libcurl list");
    }
    head = next;
  }
  return Slist(head);
}

size_t append_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct Upload {
  const std::string* text;
  std::size_t pos = 0;
};

size_t read_upload(char* buffer, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  const std::size_t len = std::min(size * n, u->text->size() - u->pos);
  std::memcpy(buffer, u->text->data() + u->pos, len);
  u->pos += len;
  return len;
}

void common_options(CurlEasy& e, const TransferOptions& o) {
  e.set(CURLOPT_NOSIGNAL, 1L, "CURLOPT_NOSIGNAL");
  e.set(CURLOPT_TIMEOUT, o.timeout_seconds, "CURLOPT_TIMEOUT");
  e.set(CURLOPT_CONNECTTIMEOUT, o.connect_timeout_seconds, "CURLOPT_CONNECTTIMEOUT");
  e.set(CURLOPT_PROXY, o.proxy, "CURLOPT_PROXY");  // "" disables environment proxies
  if (!o.ca_file.empty()) e.set(CURLOPT_CAINFO, o.ca_file, "CURLOPT_CAINFO");
}

}  // namespace

CurlEasy::CurlEasy() : error_buffer_(new char[CURL_ERROR_SIZE]) {
  global_init();
  handle_.reset(curl_easy_init());
  if (!handle_) throw CurlError(CURLE_FAILED_INIT, "curl_easy_init failed");
  error_buffer_[0] = '\0';
  set(CURLOPT_ERRORBUFFER, static_cast<void*>(error_buffer_.get()), "CURLOPT_ERRORBUFFER");
}

void CurlEasy::set(CURLoption option, long value, const char* name) {
  if (const CURLcode c = curl_easy_setopt(handle_.get(), option, value); c != CURLE_OK)
    throw CurlError(c, std::string("libcurl refused ") + name + ": " + curl_easy_strerror(c));
}

void CurlEasy::set(CURLoption option, const std::string& value, const char* name) {
  if (const CURLcode c = curl_easy_setopt(handle_.get(), option, value.c_str()); c != CURLE_OK)
    throw CurlError(c, std::string("libcurl refused ") + name + ": " + curl_easy_strerror(c));
}

void CurlEasy::set(CURLoption option, void* value, const char* name) {
  if (const CURLcode c = curl_easy_setopt(handle_.get(), option, value); c != CURLE_OK)
    throw CurlError(c, std::string("libcurl refused ") + name + ": " + curl_easy_strerror(c));
}

CURLcode CurlEasy::perform(std::string& error) {
  clear_error();
  const CURLcode c = curl_easy_perform(handle_.get());
  if (c != CURLE_OK) error = error_text(c);
  return c;
}

std::string CurlEasy::error_text(CURLcode c) const {
  return error_buffer_[0] ? error_buffer_.get() : curl_easy_strerror(c);
}

long CurlEasy::response_code() const {
  long code = 0;
  curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &code);
  return code;
}

HttpTransfer::HttpTransfer(const TransferOptions& options) {
  common_options(easy_, options);
  easy_.set(CURLOPT_WRITEFUNCTION, &append_body, "CURLOPT_WRITEFUNCTION");
  easy_.set(CURLOPT_HEADERFUNCTION, &HttpTransfer::read_header, "CURLOPT_HEADERFUNCTION");
  easy_.set(CURLOPT_WRITEDATA, static_cast<void*>(&result_.body), "CURLOPT_WRITEDATA");
  easy_.set(CURLOPT_HEADERDATA, static_cast<void*>(&sink_), "CURLOPT_HEADERDATA");
}

size_t HttpTransfer::read_header(char* data, size_t size, size_t n, void* user) {
  const std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kName.size() && match; ++i)
      match = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i]))) == kName[i];
    if (match) {
      std::string v(line.substr(kName.size()));
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
      static_cast<HeaderSink*>(user)->retry_after = v;
    }
  }
  return size * n;
}

// WRITEDATA and HEADERDATA point into this object for its whole life (it is not movable).
void HttpTransfer::start(HttpRequest request) {
  request_ = std::move(request);
  result_ = HttpResult{};
  sink_ = HeaderSink{};
  std::vector<std::string> header_lines = std::move(request_.headers);
  header_lines.emplace_back("Expect:");  // no 100-continue round trip before a larger body
  headers_ = make_slist(header_lines);
  easy_.clear_error();
  easy_.set(CURLOPT_URL, request_.url, "CURLOPT_URL");
  easy_.set(CURLOPT_HTTPHEADER, static_cast<void*>(headers_.get()), "CURLOPT_HTTPHEADER");
  easy_.set(CURLOPT_POSTFIELDSIZE, static_cast<long>(request_.body.size()),
            "CURLOPT_POSTFIELDSIZE");
  easy_.set(CURLOPT_POSTFIELDS, static_cast<void*>(request_.body.data()), "CURLOPT_POSTFIELDS");
}

HttpResult HttpTransfer::finish(CURLcode code) {
  HttpResult r = std::move(result_);
  result_ = HttpResult{};
  if (code != CURLE_OK) {
    r.error = easy_.error_text(code);
  } else {
    r.answered = true;
    r.status = easy_.response_code();
    r.retry_after = std::move(sink_.retry_after);
  }
  return r;
}

HttpSession::HttpSession(TransferOptions options) : transfer_(options) {}

HttpResult HttpSession::post(const HttpRequest& request) {
  transfer_.start(request);
  return transfer_.finish(curl_easy_perform(transfer_.easy().get()));
}

CurlMulti::CurlMulti() {
  global_init();
  handle_.reset(curl_multi_init());
  if (!handle_) throw CurlError(CURLE_FAILED_INIT, "curl_multi_init failed");
}

void CurlMulti::add(HttpTransfer& t) {
  if (const CURLMcode c = curl_multi_add_handle(handle_.get(), t.easy().get()); c != CURLM_OK)
    throw CurlError(CURLE_FAILED_INIT,
                    std::string("libcurl refused a transfer: ") + curl_multi_strerror(c));
  ++active_;
}

std::vector<std::pair<CURL*, CURLcode>> CurlMulti::drain() {
  int running = 0;
  curl_multi_perform(handle_.get(), &running);
  std::vector<std::pair<CURL*, CURLcode>> done;
  int queued = 0;
  while (CURLMsg* m = curl_multi_info_read(handle_.get(), &queued)) {
    if (m->msg != CURLMSG_DONE) continue;
    done.emplace_back(m->easy_handle, m->data.result);
  }
  for (const auto& [easy, code] : done) {
    curl_multi_remove_handle(handle_.get(), easy);
    --active_;
  }
  return done;
}

std::vector<std::pair<CURL*, CURLcode>> CurlMulti::run(int timeout_ms) {
  auto done = drain();
  if (!done.empty() || active_ == 0) return done;
  int fds = 0;
  curl_multi_poll(handle_.get(), nullptr, 0, timeout_ms, &fds);
  return drain();
}

void CurlMulti::wakeup() {
  curl_multi_wakeup(handle_.get());
}

HttpResult http_post(const HttpRequest& request, const TransferOptions& options) {
  return HttpSession(options).post(request);
}

Verdict deliver_http(ChannelKind kind, const HttpRequest& request, const TransferOptions& options,
                     std::int64_t now_unix) {
  const HttpResult r = http_post(request, options);
  if (!r.answered) return transport_failure(r.error);
  return classify_http(kind, r.status, r.body, r.retry_after, now_unix);
}

SmtpSession::SmtpSession(SmtpServer server, TransferOptions options)
    : server_(std::move(server)), options_(std::move(options)) {
  common_options(easy_, options_);
  easy_.set(CURLOPT_URL, server_.url, "CURLOPT_URL");
  easy_.set(CURLOPT_USE_SSL,
            server_.allow_plaintext ? static_cast<long>(CURLUSESSL_TRY)
                                    : static_cast<long>(CURLUSESSL_ALL),
            "CURLOPT_USE_SSL");
  if (!server_.username.empty()) {
    easy_.set(CURLOPT_USERNAME, server_.username, "CURLOPT_USERNAME");
    easy_.set(CURLOPT_PASSWORD, server_.password, "CURLOPT_PASSWORD");
  }
  easy_.set(CURLOPT_UPLOAD, 1L, "CURLOPT_UPLOAD");
  easy_.set(CURLOPT_READFUNCTION, &read_upload, "CURLOPT_READFUNCTION");
}

Verdict SmtpSession::send(const std::string& envelope_from, const std::string& recipient,
                          const std::string& message) {
  const Slist rcpt = make_slist({"<" + recipient + ">"});
  Upload upload{&message};
  easy_.set(CURLOPT_MAIL_FROM, "<" + envelope_from + ">", "CURLOPT_MAIL_FROM");
  easy_.set(CURLOPT_MAIL_RCPT, static_cast<void*>(rcpt.get()), "CURLOPT_MAIL_RCPT");
  easy_.set(CURLOPT_READDATA, static_cast<void*>(&upload), "CURLOPT_READDATA");
  easy_.set(CURLOPT_INFILESIZE, static_cast<long>(message.size()), "CURLOPT_INFILESIZE");
  std::string error;
  const CURLcode c = easy_.perform(error);
  easy_.set(CURLOPT_MAIL_RCPT, static_cast<void*>(nullptr), "CURLOPT_MAIL_RCPT");
  const long code = easy_.response_code();
  if (c == CURLE_OK) return classify_smtp(code ? code : 250, "accepted for " + recipient);
  if (code >= 400) return classify_smtp(code, error);
  if (c == CURLE_LOGIN_DENIED)
    return {Outcome::permanent, std::nullopt, "SMTP login denied: " + error};
  if (c == CURLE_USE_SSL_FAILED)
    return {Outcome::permanent, std::nullopt, "the SMTP server offers no STARTTLS: " + error};
  return transport_failure(error);
}

}  // namespace dutyd::notify
