// The scheduler's results: written in batches on the store writer, then counted and logged, and
// a permanent failure answered with an e-mail fallback and an alert to the administrators.
#include <algorithm>
#include <random>

#include "reminders/scheduler.hpp"
#include "reminders/scheduler_internal.hpp"

namespace dutyd {

using namespace scheduling;

namespace {

// Each batch costs an fsync'd commit (5-10 ms on a busy disk), on the store writer; results
// that come while one is written go together in the next.
constexpr std::size_t kFlushBatch = 1024;  // results written at once ...
constexpr int kFlushDelayMs = 20;          // ... or this long after the first of them

}  // namespace

// Results are written when kFlushBatch have gathered or kFlushDelayMs after the first, whichever
// is sooner, or when the batch being written is done.
void Scheduler::add_result(Result r) {
  results_.push_back(std::move(r));
  if (recording_) return;  // written when the batch on the store writer is done (on_recorded())
  if (results_.size() >= kFlushBatch) {
    if (!flush_posted_) {
      flush_posted_ = true;
      net::post(io_, [this] { flush_results(); });
    }
  } else if (!flush_armed_ && !flush_posted_) {
    flush_armed_ = true;
    flush_timer_.expires_after(std::chrono::milliseconds(kFlushDelayMs));
    flush_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled by flush_results(), which cleared flush_armed_
      flush_armed_ = false;
      if (!flush_posted_) flush_results();
    });
  }
}

// Outcomes are written in one transaction per batch, on the store writer: a commit per message
// would cap sending at the disk's fsync rate. One batch at a time; results that come meanwhile
// are written together when it is done (on_recorded()).
void Scheduler::flush_results() {
  flush_posted_ = false;
  if (flush_armed_) {
    flush_armed_ = false;
    flush_timer_.cancel();
  }
  if (results_.empty() || recording_) return;
  auto rec = std::make_shared<Recording>();
  rec->batch.swap(results_);
  const std::int64_t now = clock_.now();
  rec->now = now;
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(-1.0, 1.0);
  for (std::size_t i = 0; i < rec->batch.size(); ++i) {
    const Result& r = rec->batch[i];
    DeliveryOutcome o;
    o.id = r.row.id;
    const std::string& detail = r.verdict.detail;
    if (r.verdict.outcome == Outcome::permanent && detail.rfind("cancel:", 0) == 0) {
      o.result = DeliveryOutcome::cancelled;
      o.error = detail.substr(7);
    } else if (r.verdict.outcome == Outcome::ok) {
      o.result = DeliveryOutcome::sent;
      o.at = r.finished_ms / 1000;
    } else if (r.verdict.outcome == Outcome::transient &&
               now - r.row.send_at < options_.give_up_after_seconds) {
      o.result = DeliveryOutcome::retry;
      o.error = detail;
      const int attempt = r.row.attempts + 1;
      std::int64_t wait_ms = notify::backoff_ms(attempt, jitter(rng));
      if (r.verdict.retry_after_seconds) {
        wait_ms = std::max(wait_ms, *r.verdict.retry_after_seconds * 1000);
        // The robot asked everyone to wait (429, busy, DingTalk's 10-minute block).
        if (const auto ch = channels_.find(r.row.channel);
            ch != channels_.end() && rate_limited(ch->second->channel.kind))
          limits_.of(r.row.channel, wire_kind(ch->second->channel.kind))
              .block_until(steady_ms() + *r.verdict.retry_after_seconds * 1000);
      }
      o.next_attempt_at = now + (wait_ms + 999) / 1000;
    } else {
      o.result = DeliveryOutcome::failed;
      o.error =
          r.verdict.outcome == Outcome::transient
              ? "gave up after " + std::to_string(r.row.attempts + 1) + " attempt(s): " + detail
              : detail;
      rec->permanent.push_back(i);
    }
    rec->outcomes.push_back(std::move(o));
  }
  recording_ = true;
  writer_.post([this, rec](Store& db) -> Worker::Answer {
    try {
      rec->applied = db.record_outcomes(rec->outcomes, rec->now);
    } catch (const std::exception& e) {
      rec->error = e.what();
    }
    return [this, rec] { on_recorded(*rec); };
  });
}

// On the loop, once a batch is durable: counters, log lines, fallbacks and alerts.
void Scheduler::on_recorded(Recording& rec) {
  recording_ = false;
  if (!rec.error.empty()) {
    // Rows stay claimed: the next start sends them again (a duplicate rather than a loss).
    log_(3, "reminders: cannot record delivery results: " + rec.error);
    if (!results_.empty()) flush_results();
    return;
  }
  const std::vector<DeliveryOutcome>& outcomes = rec.outcomes;
  const std::vector<bool>& applied = rec.applied;
  std::size_t sent_here = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const DeliveryOutcome& o = outcomes[i];
    const DeliveryRecord& row = rec.batch[i].row;
    // Built only for the lines written: a burst's sent rows are counted, not named.
    auto what = [&] {
      return "delivery #" + std::to_string(row.id) + " (" + row.purpose + ", step " +
             std::to_string(row.step + 1) + ", " + row.channel + " → " + row.person + ")";
    };
    switch (o.result) {
      case DeliveryOutcome::sent:
        ++counters_.sent;
        ++sent_here;
        if (!applied[i]) log_(6, "sent " + what() + "; it had been cancelled meanwhile");
        break;
      case DeliveryOutcome::retry:
        ++counters_.retried;
        log_(4, what() + " failed for now (" + redact_error(o.error) + "); retrying at " +
                    iso_utc(o.next_attempt_at));
        break;
      case DeliveryOutcome::failed:
        ++counters_.failed;
        log_(3, what() + " failed permanently: " + redact_error(o.error));
        break;
      case DeliveryOutcome::cancelled:
        if (applied[i]) ++counters_.cancelled;
        log_(6, what() + " cancelled: " + o.error);
        break;
    }
  }
  // One line per batch, not per message: a burst of 100,000 would otherwise be as many lines.
  if (sent_here)
    log_(6, "reminders: sent " + std::to_string(sent_here) + " (" + std::to_string(counters_.sent) +
                " since start)");
  for (const std::size_t i : rec.permanent)
    if (applied[i]) {
      try {
        after_permanent_failure(rec.batch[i].row, redact_error(outcomes[i].error));
      } catch (const std::exception& e) {
        log_(3, std::string("reminders: cannot queue the fallback or alert: ") + e.what());
      }
    }
  // Results that came while this batch was written go next, together.
  if (!results_.empty()) flush_results();
  if (stopping_) return;
  try {
    pump();  // claims the next batch of channels running low
    schedule_wake();
  } catch (const std::exception& e) {
    log_(3, std::string("reminders: ") + e.what() + "; trying again in 5 s");
    arm(now_ms() + 5000);
  }
}

// A chat message that cannot be delivered goes to the person by e-mail instead, and the
// administrators hear of it once per channel and day (not once per message).
void Scheduler::after_permanent_failure(const DeliveryRecord& row, const std::string& problem) {
  if (row.purpose == "alert") return;  // the administrators' own channel fails: the log says it
  const Config& c = snapshot_->config();
  const std::int64_t now = clock_.now();
  std::vector<OutboxEntry> entries;
  std::string fallback = "无";
  const auto pi = c.person_index.find(row.person);
  const Person* person =
      pi == c.person_index.end() ? nullptr : &c.persons[static_cast<std::size_t>(pi->second)];
  const std::string recipient =
      (person ? person->name : row.person) + "（" + relation_text(row.relation) + "）";
  if (row.purpose == "reminder" && row.channel != email_channel_) {
    if (email_channel_.empty()) {
      fallback = "无（没有可用的电子邮件渠道）";
    } else if (!person || person->email.empty()) {
      fallback = "无（该人员未登记电子邮箱）";
    } else {
      OutboxEntry e;
      e.occurrence = row.occurrence, e.step = row.step, e.person = row.person,
      e.channel = email_channel_;
      e.org = row.org, e.relation = row.relation, e.send_at = now, e.subject = row.subject;
      e.purpose = "fallback";
      e.note = row.channel + ": " + problem;
      entries.push_back(std::move(e));
      fallback = "已改为发送电子邮件至 " + person->email;
    }
  }
  // The alert, once per failing channel and local day.
  const std::int32_t alert = c.reminders.alert_channel;
  if (alert >= 0) {
    const Channel& ach = c.channels[static_cast<std::size_t>(alert)];
    const std::string key = "alert:" + row.channel + ":" + format_day(local_day(now, utc_offset_));
    const std::string note = pack({row.channel, recipient, fallback, problem});
    auto add = [&](const std::string& to) {
      // One alert per channel, day and administrator (a restart may repeat it once).
      if (!alerted_.insert(key + "\t" + to).second) return;
      OutboxEntry e;
      e.occurrence = row.occurrence, e.step = row.step, e.person = to, e.channel = ach.id;
      e.org = row.org, e.relation = key, e.send_at = now, e.subject = "发送失败：" + row.channel;
      e.purpose = "alert";
      e.note = note;
      entries.push_back(std::move(e));
    };
    if (ach.kind == ChannelKind::email)
      for (const std::string& a : c.reminders.alert_emails) add("admin:" + a);
    else
      add("admin");
  } else {
    log_(3, "no [reminders] alert_channel: nobody is alerted that " + row.channel + " failed for " +
                recipient);
  }
  if (entries.empty()) return;
  store_.enqueue_deliveries(entries, now);
}

}  // namespace dutyd
