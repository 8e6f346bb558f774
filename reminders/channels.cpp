#include "reminders/channels.hpp"

#include <cstdlib>

#include "base/files.hpp"

namespace dutyd {
namespace {

using notify::Outcome;
using notify::Verdict;

// The host of an URL such as smtp://127.0.0.1:25 or smtp://[::1]:25.
std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  std::string rest = url.substr(start);
  if (const auto at = rest.find('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find_first_of(":/"));
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

notify::ChannelKind wire_kind(ChannelKind k) {
  switch (k) {
    case ChannelKind::email:
      return notify::ChannelKind::email;
    case ChannelKind::wecom:
      return notify::ChannelKind::wecom;
    case ChannelKind::dingtalk:
      return notify::ChannelKind::dingtalk;
    case ChannelKind::feishu:
      return notify::ChannelKind::feishu;
    default:
      return notify::ChannelKind::webhook;
  }
}

std::string credentials_dir(const Config& config) {
  if (!config.daemon.credentials_dir.empty()) return config.daemon.credentials_dir;
  if (const char* env = std::getenv("CREDENTIALS_DIRECTORY"); env && *env) return env;
  return {};
}

std::string read_credential(const std::string& dir, const std::string& name) {
  for (const std::string& file : {name, "dutyd_" + name}) {
    std::string value;
    try {
      value = read_regular_file(dir + "/" + file, kMaxCredentialBytes, "credential '" + name + "'");
    } catch (const FileReadError&) {
      continue;  // missing, unreadable, not a regular file or too large: the caller says what to do
    }
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' '))
      value.pop_back();
    if (!value.empty()) return value;
  }
  return {};
}

std::string load_link_key(const Config& config, Store& store, const std::string& now_iso) {
  if (const std::string dir = credentials_dir(config); !dir.empty())
    if (std::string key = read_credential(dir, "link_key"); !key.empty())
      return key;  // a missing or empty credential falls back to the store's key
  return store.link_key(now_iso);
}

std::map<std::string, std::shared_ptr<const ChannelRuntime>> load_channels(const Config& config) {
  const std::string dir = credentials_dir(config);
  std::map<std::string, std::shared_ptr<const ChannelRuntime>> out;
  for (const Channel& c : config.channels) {
    auto rt = std::make_shared<ChannelRuntime>();
    rt->channel = c;
    // Reads one credential; a missing one makes the channel unavailable, with what to do.
    auto read = [&](const std::string& name, std::string& into) {
      if (name.empty() || !rt->problem.empty()) return;
      if (dir.empty()) {
        rt->problem = "credential '" + name +
                      "' cannot be read: no credentials folder — set [daemon] credentials_dir, or "
                      "LoadCredential=" +
                      name + ":... in the systemd unit";
        return;
      }
      std::string value = read_credential(dir, name);
      if (value.empty())
        rt->problem = "credential '" + name + "' is missing or empty in " + dir +
                      " — write the secret to /etc/dutyd/credentials/" + name +
                      " (mode 0600) and restart dutyd (systemctl restart dutyd: systemd loads "
                      "credentials at start), or outside systemd to " +
                      dir + "/" + name;
      into = std::move(value);
    };
    read(c.password_credential, rt->password);
    read(c.key_credential, rt->key);
    read(c.token_credential, rt->token);
    read(c.secret_credential, rt->secret);
    out.emplace(c.id, std::move(rt));
  }
  return out;
}

notify::TransferOptions ChannelSender::options_for(const ChannelRuntime& ch) const {
  notify::TransferOptions o = options_;
  if (!ch.channel.ca_file.empty()) o.ca_file = ch.channel.ca_file;
  return o;
}

notify::HttpRequest ChannelSender::request_for(const ChannelRuntime& ch, const Envelope& e,
                                               std::int64_t now_ms) const {
  notify::ChatMessage m;
  // The chat templates are whole messages (they start with 【履责提醒】 and the person); robots
  // would put a title line above them that says the same again. A webhook gets it as a field.
  if (ch.channel.kind == ChannelKind::webhook) m.title = e.subject;
  m.text = e.chat;
  m.link = e.link;
  m.mentions = e.mentions;
  switch (ch.channel.kind) {
    case ChannelKind::wecom:
      return notify::wecom_request({ch.channel.url, ch.key}, m, notify::WecomFormat::text);
    case ChannelKind::dingtalk:
      return notify::dingtalk_request({ch.channel.url, ch.token, ch.secret}, m, now_ms);
    case ChannelKind::feishu:
      return notify::feishu_request({ch.channel.url, ch.token, ch.secret}, m, now_ms / 1000);
    default: {
      notify::HttpRequest request = notify::webhook_request(ch.channel.url, m);
      if (!ch.token.empty()) request.headers.push_back("Authorization: Bearer " + ch.token);
      return request;
    }
  }
}

bool ChannelSender::is_http(const Envelope& e) {
  const ChannelKind k = e.channel->channel.kind;
  return k != ChannelKind::email && k != ChannelKind::log;
}

Verdict ChannelSender::send(const Envelope& e, std::int64_t now_ms) {
  const ChannelRuntime& ch = *e.channel;
  const std::int64_t now_s = now_ms / 1000;
  try {
    switch (ch.channel.kind) {
      case ChannelKind::email:
        return send_email(e, now_s);
      case ChannelKind::log:
        return {Outcome::ok, std::nullopt, "written to the log"};  // see Scheduler
      default:
        break;
    }
    const notify::HttpRequest request = request_for(ch, e, now_ms);
    auto& http = http_[ch.channel.id];
    if (!http.session || http.runtime != e.channel) {
      http.session = std::make_unique<notify::HttpSession>(options_for(ch));
      http.runtime = e.channel;
    }
    const notify::HttpResult r = http.session->post(request);
    if (!r.answered) return notify::transport_failure(r.error);
    return notify::classify_http(wire_kind(ch.channel.kind), r.status, r.body, r.retry_after,
                                 now_s);
  } catch (const std::exception& ex) {
    // A message that cannot be built or a handle libcurl refuses: retrying would not help.
    return {Outcome::permanent, std::nullopt, ex.what()};
  }
}

std::unique_ptr<notify::HttpTransfer> ChannelSender::start(const Envelope& e, std::int64_t now_ms,
                                                           notify::Verdict& failed) {
  const ChannelRuntime& ch = *e.channel;
  try {
    notify::HttpRequest request = request_for(ch, e, now_ms);
    IdleTransfers& pool = transfers_[ch.channel.id];
    if (pool.runtime != e.channel) {
      pool.idle.clear();  // made for the channel before a reload (URL, CA file)
      pool.runtime = e.channel;
    }
    std::unique_ptr<notify::HttpTransfer> t;
    if (pool.idle.empty()) {
      t = std::make_unique<notify::HttpTransfer>(options_for(ch));
    } else {
      t = std::move(pool.idle.back());
      pool.idle.pop_back();
    }
    t->start(std::move(request));
    return t;
  } catch (const std::exception& ex) {
    failed = {Outcome::permanent, std::nullopt, ex.what()};
    return nullptr;
  }
}

Verdict ChannelSender::finish(const Envelope& e, std::unique_ptr<notify::HttpTransfer> t,
                              CURLcode code, std::int64_t now_ms) {
  const ChannelRuntime& ch = *e.channel;
  const notify::HttpResult r = t->finish(code);
  if (IdleTransfers& pool = transfers_[ch.channel.id]; pool.runtime == e.channel)
    pool.idle.push_back(std::move(t));
  if (!r.answered) return notify::transport_failure(r.error);
  return notify::classify_http(wire_kind(ch.channel.kind), r.status, r.body, r.retry_after,
                               now_ms / 1000);
}

Verdict ChannelSender::send_email(const Envelope& e, std::int64_t now_s) {
  const ChannelRuntime& ch = *e.channel;
  auto& cached = smtp_[ch.channel.id];
  auto& session = cached.session;
  if (!session || cached.runtime != e.channel) {
    cached.runtime = e.channel;
    notify::SmtpServer server;
    server.url = ch.channel.url;
    server.username = ch.channel.username;
    server.password = ch.password;
    server.allow_plaintext =
        ch.channel.url.rfind("smtp://", 0) == 0 && is_loopback(host_of(ch.channel.url));
    session = std::make_unique<notify::SmtpSession>(std::move(server), options_for(ch));
  }
  notify::EmailMessage m;
  m.from = {"全面从严治党主体责任提醒", ch.channel.from};
  m.to = e.to;
  m.subject = e.subject;
  m.body = e.body;
  m.date_unix = now_s;
  m.message_id = e.message_id;
  const std::string bytes = notify::build_email(m);
  notify::Verdict v = session->send(ch.channel.from, e.to.address, bytes);
  // A broken connection is not reused: the next message opens a new one.
  if (v.outcome != Outcome::ok) session.reset();
  return v;
}

}  // namespace dutyd
