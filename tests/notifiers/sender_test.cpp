// The libcurl sender against real servers on loopback (loopback_servers.py): aiosmtpd with
// STARTTLS and AUTH, and HTTP receivers that check signatures and answer the vendors' codes.
#include "notifiers/curl_sender.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

namespace dutyd::notify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Starts loopback_servers.py; stops it (SIGTERM, then waits) when destroyed.
class Servers {
 public:
  Servers() : dir_(fs::temp_directory_path() / ("dutyd-lb-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string script = std::string(DUTYD_NOTIFIER_TEST_DIR) + "/loopback_servers.py";
      ::execl(DUTYD_PYTHON, DUTYD_PYTHON, script.c_str(), dir_.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string out;
    char buf[256];
    while (out.find("ready\n") == std::string::npos) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    std::istringstream in(out);
    std::string name;
    int port = 0;
    while (in >> name && name != "ready" && in >> port)
      (name == "smtp" ? smtp_port : http_port) = port;
  }
  ~Servers() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Servers(const Servers&) = delete;
  Servers& operator=(const Servers&) = delete;

  std::string http(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(http_port) + path;
  }
  std::vector<json> requests() const {
    std::vector<json> v;
    std::ifstream in(dir_ / "http.jsonl");
    for (std::string line; std::getline(in, line);) v.push_back(json::parse(line));
    return v;
  }
  // The n-th accepted mail (1-based): envelope JSON line, then the message bytes.
  std::pair<json, std::string> mail(int n) const {
    std::ifstream in(dir_ / ("mail-" + std::to_string(n) + ".eml"), std::ios::binary);
    std::string first;
    std::getline(in, first);
    std::string rest((std::istreambuf_iterator<char>(in)), {});
    return {json::parse(first, nullptr, false), rest};
  }
  fs::path file(const std::string& name) const { return dir_ / name; }

  int smtp_port = 0;
  int http_port = 0;

 private:
  fs::path dir_;
  pid_t pid_ = -1;
};

const Servers& servers() {
  static Servers s;
  return s;
}

TransferOptions loopback_options() {
  TransferOptions o;
  o.timeout_seconds = 20;
  o.ca_file = servers().file("cert.pem").string();
  return o;
}

ChatMessage message() {
  ChatMessage m;
  m.title = "【提醒】第六条第（十六）项";
  m.text = "请于2027年1月31日前向上级党委报告。";
  m.link = "https://duty.example.gov.cn/c/1";
  m.mentions = {{"王某", "wangmou", "13800000001", "", "ou_wang"}};
  return m;
}

TEST(CurlSender, ServersStarted) {
  ASSERT_GT(servers().smtp_port, 0);
  ASSERT_GT(servers().http_port, 0);
}

TEST(CurlSender, WeComCodesDecideNotTheHttpStatus) {
  const auto& s = servers();
  auto send = [&](const std::string& key) {
    return deliver_http(ChannelKind::wecom,
                        wecom_request({s.http("/wecom/send"), key}, message(), WecomFormat::text),
                        loopback_options(), now_s());
  };
  EXPECT_EQ(send("good").outcome, Outcome::ok);
  EXPECT_EQ(send("busy").outcome, Outcome::transient);
  const Verdict freq = send("freq");
  EXPECT_EQ(freq.outcome, Outcome::transient);
  EXPECT_EQ(freq.retry_after_seconds, 60);
  const Verdict bad = send("bad");  // HTTP 200, errcode 93000
  EXPECT_EQ(bad.outcome, Outcome::permanent);
  EXPECT_EQ(bad.detail, "errcode 93000: invalid webhook url");
  bool saw_mention = false;
  for (const auto& r : s.requests())
    if (r["path"] == "/wecom/send")
      saw_mention |= r["body"]["text"]["mentioned_list"] == json::array({"wangmou"});
  EXPECT_TRUE(saw_mention);
}

TEST(CurlSender, DingTalkSignatureAcceptedByTheReceiver) {
  const auto& s = servers();
  const auto ms = now_s() * 1000 + 123;
  Verdict v =
      deliver_http(ChannelKind::dingtalk,
                   dingtalk_request({s.http("/dingtalk/send"), "tok", "SECding"}, message(), ms),
                   loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::ok) << v.detail;
  // A wrong secret or a two-hour-old timestamp: 310000, permanent.
  v = deliver_http(ChannelKind::dingtalk,
                   dingtalk_request({s.http("/dingtalk/send"), "tok", "wrong"}, message(), ms),
                   loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::permanent);
  v = deliver_http(ChannelKind::dingtalk,
                   dingtalk_request({s.http("/dingtalk/send"), "tok", "SECding"}, message(),
                                    ms - 2 * 3600 * 1000),
                   loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::permanent);
  v = deliver_http(ChannelKind::dingtalk,
                   dingtalk_request({s.http("/dingtalk/send"), "fast", "SECding"}, message(), ms),
                   loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::transient);
  EXPECT_EQ(v.retry_after_seconds, 600);
}

TEST(CurlSender, FeishuSignatureAcceptedByTheReceiver) {
  const auto& s = servers();
  Verdict v = deliver_http(
      ChannelKind::feishu,
      feishu_request({s.http("/feishu/hook"), "tok", "feishu-secret"}, message(), now_s()),
      loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::ok) << v.detail;
  v = deliver_http(ChannelKind::feishu,
                   feishu_request({s.http("/feishu/hook"), "tok", "other"}, message(), now_s()),
                   loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::permanent);
  EXPECT_NE(v.detail.find("19021"), std::string::npos);
}

TEST(CurlSender, WebhookRetryAfterAndTransportFailure) {
  const auto& s = servers();
  Verdict v = deliver_http(ChannelKind::webhook, webhook_request(s.http("/webhook/429"), message()),
                           loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::transient);
  EXPECT_EQ(v.retry_after_seconds, 7);
  EXPECT_EQ(deliver_http(ChannelKind::webhook, webhook_request(s.http("/webhook/ok"), message()),
                         loopback_options(), now_s())
                .outcome,
            Outcome::ok);
  // Nobody listens on port 1: a transport failure, retried later.
  v = deliver_http(ChannelKind::webhook, webhook_request("http://127.0.0.1:1/x", message()),
                   loopback_options(), now_s());
  EXPECT_EQ(v.outcome, Outcome::transient);
  EXPECT_FALSE(v.detail.empty());
}

TEST(CurlSender, SmtpStartTlsAuthOneTransferPerRecipient) {
  const auto& s = servers();
  SmtpServer server{"smtp://127.0.0.1:" + std::to_string(s.smtp_port), "dutyd", "s3cret 密码"};
  SmtpSession session(server, loopback_options());
  EmailMessage m;
  m.from = {"全面从严治党提醒", "dutyd@example.gov.cn"};
  m.subject = "【提醒】第六条第（十六）项：还有7天到期";
  m.body = "王某同志：\n请于2027年1月31日前报告。\n";
  m.date_unix = now_s();
  struct Want {
    std::string rcpt;
    Outcome outcome;
  };
  const Want wants[] = {{"wang@example.gov.cn", Outcome::ok},
                        {"full@example.gov.cn", Outcome::transient},
                        {"nobody@example.gov.cn", Outcome::permanent},
                        {"li@example.gov.cn", Outcome::ok}};
  int n = 0;
  for (const auto& w : wants) {
    m.to = {"收件人", w.rcpt};
    m.message_id = make_message_id("t" + std::to_string(n++), "example.gov.cn");
    const Verdict v = session.send(m.from.address, w.rcpt, build_email(m));
    EXPECT_EQ(v.outcome, w.outcome) << w.rcpt << ": " << v.detail;
  }
  // Two accepted, each its own transfer, over TLS and authenticated; Python decodes them.
  for (int i = 1; i <= 2; ++i) {
    const auto [envelope, bytes] = s.mail(i);
    ASSERT_TRUE(envelope.is_object()) << "mail " << i << " missing";
    EXPECT_EQ(envelope["to"].size(), 1u);
    EXPECT_TRUE(envelope["tls"]);
    EXPECT_TRUE(envelope["auth"]);
    const fs::path eml = s.file("check-" + std::to_string(i) + ".eml");
    std::ofstream(eml, std::ios::binary) << bytes;
    const json d = json::parse(test::run_reference({"email", eml.string()}), nullptr, false);
    ASSERT_TRUE(d.is_object());
    EXPECT_EQ(d["subject"], m.subject);
    EXPECT_EQ(d["from_name"], "全面从严治党提醒");
    EXPECT_EQ(d["body"], m.body);
  }
  EXPECT_EQ(s.mail(1).first["to"][0], "wang@example.gov.cn");
  EXPECT_EQ(s.mail(2).first["to"][0], "li@example.gov.cn");
  // A wrong password is permanent (an administrator must fix the credential).
  SmtpSession wrong({server.url, "dutyd", "nope"}, loopback_options());
  m.to = {"", "wang@example.gov.cn"};
  const Verdict denied = wrong.send(m.from.address, "wang@example.gov.cn", build_email(m));
  EXPECT_EQ(denied.outcome, Outcome::permanent) << denied.detail;
}

}  // namespace
}  // namespace dutyd::notify
