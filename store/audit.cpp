// The audit log: every state change appends a row whose hash covers the row before it, so an
// edit of the database after the fact shows in verify_audit().
#include "base/crypto.hpp"
#include "store/store.hpp"

namespace dutyd {

namespace {

const std::string kGenesis(64, '0');

std::string row_hash(const std::string& prev, std::int64_t id, const std::string& at,
                     const std::string& actor, const std::string& action,
                     const std::string& subject, const std::string& detail) {
  // Fields separated by a byte that cannot occur in UTF-8 text.
  const std::string sep(1, '\x1f');
  return sha256_hex(prev + sep + std::to_string(id) + sep + at + sep + actor + sep + action + sep +
                    subject + sep + detail);
}

}  // namespace

void Store::append_audit(const std::string& actor, const std::string& action,
                         const std::string& subject, const std::string& detail,
                         const std::string& now) {
  SQLite::Statement last(db_, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
  std::int64_t id = 1;
  std::string prev = kGenesis;
  if (last.executeStep()) {
    id = last.getColumn(0).getInt64() + 1;
    prev = last.getColumn(1).getString();
  }
  SQLite::Statement ins(
      db_,
      "INSERT INTO audit(id, at, actor, action, subject, detail, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, id);
  ins.bind(2, now);
  ins.bind(3, actor);
  ins.bind(4, action);
  ins.bind(5, subject);
  ins.bind(6, detail);
  ins.bind(7, prev);
  ins.bind(8, row_hash(prev, id, now, actor, action, subject, detail));
  ins.exec();
}

void Store::audit(const std::string& actor, const std::string& action, const std::string& subject,
                  const std::string& detail, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  append_audit(actor, action, subject, detail, now);
  tx.commit();
}

AuditCheck Store::verify_audit() {
  AuditCheck check;
  SQLite::Statement q(
      db_, "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id");
  std::string prev = kGenesis;
  std::int64_t expected_id = 1;
  while (q.executeStep()) {
    const std::int64_t id = q.getColumn(0).getInt64();
    ++check.rows;
    auto broken = [&](std::string why) {
      check.first_broken = id;
      check.problem = std::move(why);
    };
    if (id != expected_id) {
      broken("row " + std::to_string(expected_id) + " is missing");
      check.first_broken = expected_id;
      return check;
    }
    if (q.getColumn(6).getString() != prev) {
      broken("prev_hash does not match the hash of the row before");
      return check;
    }
    const std::string h = row_hash(prev, id, q.getColumn(1).getString(), q.getColumn(2).getString(),
                                   q.getColumn(3).getString(), q.getColumn(4).getString(),
                                   q.getColumn(5).getString());
    if (h != q.getColumn(7).getString()) {
      broken("the row's content does not match its hash (changed after it was written)");
      return check;
    }
    prev = h;
    ++expected_id;
  }
  return check;
}

}  // namespace dutyd
