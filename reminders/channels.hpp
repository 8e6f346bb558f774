// Channels ready to send: each [[channel]] with its secrets read from credential files, and the
// blocking sender a worker thread uses to deliver one rendered message through one of them.
// Secrets live only here, in memory; they never reach logs, the store or error texts (errors
// pass through redact_error before they are kept).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "notifiers/curl_sender.hpp"
#include "notifiers/messages.hpp"
#include "notifiers/response.hpp"
#include "store/store.hpp"

namespace dutyd {

struct ChannelRuntime {
  Channel channel;
  std::string password, key, token, secret;
  // Non-empty: the channel cannot send (a credential file is missing or empty). Its rows stay
  // queued until a reload finds the credential; nothing is lost or failed for it.
  std::string problem;
  bool available() const { return problem.empty(); }
};

// How the answer of a channel kind is read (a log channel has none; webhooks are generic).
notify::ChannelKind wire_kind(ChannelKind k);

// The credentials folder: [daemon] credentials_dir, else $CREDENTIALS_DIRECTORY; empty if none.
std::string credentials_dir(const Config& config);

// The secret in credential NAME of folder DIR, trailing blanks and line ends removed; empty when
// missing, unreadable or empty. Looks for DIR/NAME (a credential loaded on its own, e.g.
// LoadCredentialEncrypted=NAME in a drop-in), then DIR/dutyd_NAME: dutyd.service loads the
// folder /etc/dutyd/credentials with LoadCredential=dutyd:/etc/dutyd/credentials, and systemd
// (252, systemd.exec(5)) names each file F of a loaded folder ID_F.
std::string read_credential(const std::string& dir, const std::string& name);

// The key that signs completion links: the `link_key` credential when present, else the store's
// own (created once).
std::string load_link_key(const Config& config, Store& store, const std::string& now_iso);
// Every channel of the config, by id, with its credentials read.
std::map<std::string, std::shared_ptr<const ChannelRuntime>> load_channels(const Config& config);

// One message to one recipient through one channel, as the scheduler rendered it.
struct Envelope {
  std::int64_t id = 0;  // the outbox row
  std::shared_ptr<const ChannelRuntime> channel;
  notify::Mailbox to;         // e-mail: the recipient
  std::string subject, body;  // e-mail subject and body; the subject is also the chat title
  std::string chat;           // chat text
  std::string link;           // appended to a cut chat text
  std::vector<notify::Mention> mentions;
  std::string message_id;  // e-mail Message-ID (without brackets)
};

// Lives on one worker thread: keeps one HTTP handle and one SMTP session per channel, so
// connections are reused between messages.
class ChannelSender {
 public:
  explicit ChannelSender(notify::TransferOptions options) : options_(std::move(options)) {}
  // Never throws: a libcurl or builder error becomes a Verdict.
  notify::Verdict send(const Envelope& e, std::int64_t now_ms);

  // The non-blocking path for HTTP channels (robots, webhooks), driven by a notify::CurlMulti:
  // a transfer started with the envelope's request, or nullptr with `failed` set when the
  // request cannot be built. E-mail and log channels are not HTTP: use send().
  static bool is_http(const Envelope& e);
  std::unique_ptr<notify::HttpTransfer> start(const Envelope& e, std::int64_t now_ms,
                                              notify::Verdict& failed);
  // The answer read as the channel's kind reads it; the transfer goes back to the channel's
  // idle handles (kept while the channel's runtime is the same).
  notify::Verdict finish(const Envelope& e, std::unique_ptr<notify::HttpTransfer> t, CURLcode code,
                         std::int64_t now_ms);

 private:
  notify::HttpRequest request_for(const ChannelRuntime& ch, const Envelope& e,
                                  std::int64_t now_ms) const;
  struct IdleTransfers {
    std::shared_ptr<const ChannelRuntime> runtime;
    std::vector<std::unique_ptr<notify::HttpTransfer>> idle;
  };
  std::map<std::string, IdleTransfers> transfers_;
  notify::Verdict send_email(const Envelope& e, std::int64_t now_s);
  notify::TransferOptions options_;
  notify::TransferOptions options_for(const ChannelRuntime& ch) const;
  // By channel id, with the runtime they were made for: a reload (new credentials, CA) makes
  // new sessions.
  template <typename S>
  struct Cached {
    std::shared_ptr<const ChannelRuntime> runtime;
    std::unique_ptr<S> session;
  };
  std::map<std::string, Cached<notify::HttpSession>> http_;
  std::map<std::string, Cached<notify::SmtpSession>> smtp_;
};

}  // namespace dutyd
