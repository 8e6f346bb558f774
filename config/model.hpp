// The validated model of a dutyd configuration: organisations, people, posts over time, and
// the obligation catalogue after local overrides. Built by config/loader; read by everything else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/date.hpp"
#include "config/escalation.hpp"

namespace dutyd {

// Where a value came from, for FILE:LINE:COL messages.
struct SourceLoc {
  std::uint16_t file = 0;  // index into Config::files
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

enum class OrgKind : std::uint8_t {
  party_committee,
  working_committee,
  standing_committee,
  party_group,
  department,
  discipline_inspection,
  leading_group,
};
enum class Level : std::uint8_t { province, city, county, township, unit };
enum class Role : std::uint8_t { principal, member };

struct Org {
  std::string id;
  std::string name;
  OrgKind kind{};
  std::string subtype;  // party group `group`, leading group `group`, department `department`
  Level level{};
  std::int32_t parent = -1;
  std::int32_t discipline_organ = -1;
  SourceLoc loc;
};

struct Person {
  std::string id;
  std::string name;
  std::string email, mobile, wecom, dingtalk, feishu;
  SourceLoc loc;
};

struct Post {
  std::int32_t person = -1;
  std::int32_t org = -1;
  Role role{};
  Day from = 0;
  Day until = kOpenEnd;  // inclusive last day
  std::vector<std::int32_t> in_charge_of;
  SourceLoc loc;
  bool covers(Day d) const { return from <= d && d <= until; }
};

enum class Actor : std::uint8_t { team, principal, member, org };
enum class Counterparts : std::uint8_t {
  none,
  team_and_subordinate_principals,  // 第七条第（八）项
  leaders_of_units_in_charge,       // 第八条第（五）项
  subordinate_orgs,                 // 第六条第（十五）项
};
enum class Period : std::uint8_t { year, half_year, quarter };

struct OrgSelector {
  OrgKind kind{};
  std::string subtype;  // empty: any
};

struct Obligation {
  std::string id;
  int article = 0;
  int item = 0;
  std::string title;
  std::string quote;
  Actor actor{};
  std::vector<OrgSelector> applies_to;
  std::uint8_t levels = 0x1f;  // bit per Level
  // Schedule: either a recurrence rule or an event trigger.
  std::string rrule;
  std::optional<MonthDay> window_start;
  Period period = Period::year;
  int min_count = 1;
  Counterparts counterparts = Counterparts::none;
  std::string event;  // non-empty: event-triggered
  int deadline_days = 0;
  std::string timing_note;
  std::vector<std::string> recipients;
  std::vector<std::string> evidence;
  int art27 = 0;
  bool disabled = false;
  bool local = false;        // defined in the site config rather than the catalogue
  std::int32_t ladder = -1;  // [[override]] ladder = "id": index into Config::ladders; -1: by kind
  // [[override]] grace_days: days after the due date before a missed occurrence is flagged;
  // -1: [accountability] grace_days.
  int grace_days = -1;
  SourceLoc loc;

  bool event_triggered() const { return !event.empty(); }
  bool applies(const Org& org) const;
};

// A recorded event that triggers an event-type obligation ([[event]] in the config).
struct Event {
  std::int32_t obligation = -1;
  std::int32_t org = -1;
  std::int32_t person = -1;  // required for member duties
  Day date = 0;
  std::string note;
  SourceLoc loc;
};

// [daemon]: how `dutyd run` serves. Paths are already resolved against the config's folder.
struct DaemonSettings {
  std::string listen = "127.0.0.1:8088";  // host:port or [v6]:port; a systemd socket wins
  std::string database;  // empty: $STATE_DIRECTORY/dutyd.db, else /var/lib/dutyd/dutyd.db
  std::string public_url = "http://127.0.0.1:8088";  // base of feed and completion links
  std::string credentials_dir;                       // empty: $CREDENTIALS_DIRECTORY
  int link_ttl_days = 60;                            // validity of signed completion links
  int horizon_years_back = 1;   // occurrences kept from 1 January of this many years ago
  int horizon_years_ahead = 1;  // ... to 31 December this many years ahead
};

// Where reminders go ([[channel]]). Secrets are never here: only the names of credential files
// (in $CREDENTIALS_DIRECTORY or [daemon] credentials_dir).
enum class ChannelKind : std::uint8_t { email, wecom, dingtalk, feishu, webhook, log };

struct Channel {
  std::string id;
  ChannelKind kind{};
  std::string url;       // smtp:// or smtps:// for e-mail; the robot's or webhook's address
  std::string from;      // e-mail: the sender address
  std::string username;  // e-mail: AUTH user (optional)
  std::string password_credential;  // e-mail AUTH password
  std::string key_credential;       // WeCom robot key
  std::string token_credential;     // DingTalk access_token, Feishu hook token, webhook bearer
  std::string secret_credential;    // DingTalk / Feishu signing secret (optional)
  std::string
      ca_file;  // PEM of a private CA that signed the server's certificate; empty: system store
  // Chat channels: the organisations whose messages the group carries (exactly these; an
  // organisation none covers falls back to its nearest covered ancestor). `all_orgs`: a webhook
  // or log channel without `orgs` carries every organisation's messages.
  std::vector<std::int32_t> orgs;
  bool all_orgs = false;
  SourceLoc loc;
  bool chat() const { return kind != ChannelKind::email; }
};

// [[ladder_for]]: the ladder of every obligation of one kind of organisation (kind or
// kind:subtype, as in applies_to) unless an [[override]] names one for the obligation.
struct LadderForKind {
  OrgSelector selector;
  std::int32_t ladder = -1;
  SourceLoc loc;
};

// [reminders] (main file only).
struct ReminderSettings {
  QuietHours quiet;  // default 20:00-08:00
  // Holiday files (TOML or .ics) read after the shipped data (notifiers/holidays); a year they
  // give replaces the shipped one. Paths resolved against the config's folder, globs expanded.
  std::vector<std::string> holiday_files;
  // Message texts (notifiers/templates.hpp) over the shipped ones; empty: the shipped texts.
  // Resolved against the config's folder.
  std::string templates_file;
  std::int32_t alert_channel = -1;        // administrators' channel, index into Config::channels
  std::vector<std::string> alert_emails;  // when that channel is e-mail: the administrators
};

// [accountability] (main file only): when a missed occurrence becomes a non-compliance flag and
// how its severity is graded (calendar/accountability.hpp; the grade defaults equal its
// SeverityRules).
struct AccountabilitySettings {
  int grace_days = 5;         // open this many days after the due date: flagged the day after
  int serious_days = 30;      // this late or later: at least 较重
  int grave_days = 90;        // this late or later: 严重
  int serious_repeats = 1;    // this many earlier misses of the same duty: one grade up
  int serious_open = 3;       // this many other open flags in the organisation: one grade up
  int look_back_periods = 2;  // how many earlier periods of the same obligation are "recent"
};

struct Config {
  std::string timezone = "Asia/Shanghai";
  DaemonSettings daemon;
  std::vector<std::string> files;  // the catalogue, the main config, then its includes
  std::vector<Org> orgs;
  std::vector<Person> persons;
  std::vector<Post> posts;
  std::vector<Obligation> obligations;
  std::vector<Event> events;
  // Always holds a ladder "default": the configured one, else the shipped default_ladder().
  std::vector<Ladder> ladders;
  std::vector<LadderForKind> ladders_for_kinds;
  std::vector<Channel> channels;
  ReminderSettings reminders;
  AccountabilitySettings accountability;
  std::unordered_map<std::string, std::int32_t> org_index, person_index, obligation_index;
  std::unordered_map<std::string, std::int32_t> ladder_index, channel_index;

  const Org* find_org(const std::string& id) const;
  const Person* find_person(const std::string& id) const;
  const Obligation* find_obligation(const std::string& id) const;
  // The ladder for an obligation at an organisation: the obligation's [[override]] ladder, else
  // the [[ladder_for]] of the organisation's kind:subtype, else of its kind, else "default".
  std::int32_t ladder_for(const Obligation& o, const Org& org) const;
  // The grace period of an obligation: its [[override]] grace_days, else [accountability]'s.
  int grace_days(const Obligation& o) const {
    return o.grace_days >= 0 ? o.grace_days : accountability.grace_days;
  }
};

// Text for users.
const char* to_string(OrgKind k);
const char* to_string(Level l);
const char* to_string(Role r);
const char* to_string(Actor a);
const char* to_string(Counterparts c);
const char* to_string(Period p);
const char* to_string(ChannelKind k);
const char* actor_zh(Actor a);
const char* recipient_zh(const std::string& recipient);
// 第六条第（十六）项, or 第二十五条 when item is 0.
std::string citation(int article, int item);
std::string chinese_number(int n);

}  // namespace dutyd
