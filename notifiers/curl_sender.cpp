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

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

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

struct HeaderSink {
  std::string retry_after;
};

size_t read_header(char* data, size_t size, size_t n, void* user) {
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
  error_buffer_[0] = '\0';
  const CURLcode c = curl_easy_perform(handle_.get());
  if (c != CURLE_OK) error = error_buffer_[0] ? error_buffer_.get() : curl_easy_strerror(c);
  return c;
}

long CurlEasy::response_code() const {
  long code = 0;
  curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &code);
  return code;
}

HttpSession::HttpSession(TransferOptions options) : options_(std::move(options)) {
  common_options(easy_, options_);
  easy_.set(CURLOPT_WRITEFUNCTION, &append_body, "CURLOPT_WRITEFUNCTION");
  easy_.set(CURLOPT_HEADERFUNCTION, &read_header, "CURLOPT_HEADERFUNCTION");
}

HttpResult HttpSession::post(const HttpRequest& request) {
  HttpResult r;
  CurlEasy& e = easy_;
  std::vector<std::string> header_lines = request.headers;
  header_lines.emplace_back("Expect:");  // no 100-continue round trip before a larger body
  const Slist headers = make_slist(header_lines);
  HeaderSink sink;
  e.set(CURLOPT_URL, request.url, "CURLOPT_URL");
  e.set(CURLOPT_HTTPHEADER, static_cast<void*>(headers.get()), "CURLOPT_HTTPHEADER");
  e.set(CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()), "CURLOPT_POSTFIELDSIZE");
  e.set(CURLOPT_POSTFIELDS, static_cast<void*>(const_cast<char*>(request.body.data())),
        "CURLOPT_POSTFIELDS");
  e.set(CURLOPT_WRITEDATA, static_cast<void*>(&r.body), "CURLOPT_WRITEDATA");
  e.set(CURLOPT_HEADERDATA, static_cast<void*>(&sink), "CURLOPT_HEADERDATA");
  const CURLcode c = e.perform(r.error);
  // The handle outlives this call: it must not keep pointers into it.
  e.set(CURLOPT_HTTPHEADER, static_cast<void*>(nullptr), "CURLOPT_HTTPHEADER");
  e.set(CURLOPT_WRITEDATA, static_cast<void*>(nullptr), "CURLOPT_WRITEDATA");
  e.set(CURLOPT_HEADERDATA, static_cast<void*>(nullptr), "CURLOPT_HEADERDATA");
  if (c != CURLE_OK) return r;
  r.answered = true;
  r.status = e.response_code();
  r.retry_after = sink.retry_after;
  return r;
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
  easy_.set(CURLOPT_USE_SSL, server_.allow_plaintext ? static_cast<long>(CURLUSESSL_TRY)
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
  if (c == CURLE_LOGIN_DENIED) return {Outcome::permanent, std::nullopt, "SMTP login denied: " + error};
  if (c == CURLE_USE_SSL_FAILED)
    return {Outcome::permanent, std::nullopt, "the SMTP server offers no STARTTLS: " + error};
  return transport_failure(error);
}

}  // namespace dutyd::notify
