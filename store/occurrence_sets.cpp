// Occurrence sets (per organisation, a digest and a deflated body of its occurrences) and the
// occurrences retired by a re-derivation.
#include <zlib.h>

#include <cstring>

#include "store/store.hpp"

namespace dutyd {

namespace {

// Occurrence-set bodies are repetitive text (a province: ~200 MB): stored deflated, which cuts
// the first start's write volume about tenfold. Format: "z1", 8-byte length, zlib stream.
std::string deflate_body(const std::string& body) {
  uLongf bound = compressBound(static_cast<uLong>(body.size()));
  std::string out(10 + bound, '\0');
  out[0] = 'z', out[1] = '1';
  const std::uint64_t n = body.size();
  std::memcpy(out.data() + 2, &n, 8);
  if (compress2(reinterpret_cast<Bytef*>(out.data() + 10), &bound,
                reinterpret_cast<const Bytef*>(body.data()), static_cast<uLong>(body.size()),
                1) != Z_OK)
    throw StoreError("cannot compress an occurrence set");
  out.resize(10 + bound);
  // Give back the room compressBound() asked for (about the size of the text): a first start
  // holds every organisation's packed set at once, and the slack was 170 MiB of its peak.
  out.shrink_to_fit();
  return out;
}

std::string inflate_body(const std::string& stored) {
  if (stored.size() < 10 || stored[0] != 'z' || stored[1] != '1') return stored;
  std::uint64_t n = 0;
  std::memcpy(&n, stored.data() + 2, 8);
  std::string out(n, '\0');
  uLongf len = static_cast<uLongf>(n);
  if (uncompress(reinterpret_cast<Bytef*>(out.data()), &len,
                 reinterpret_cast<const Bytef*>(stored.data() + 10),
                 static_cast<uLong>(stored.size() - 10)) != Z_OK ||
      len != n)
    throw StoreError("an occurrence set in the database is damaged — restore a backup");
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Store::occurrence_digests() {
  std::vector<std::pair<std::string, std::string>> out;
  SQLite::Statement q(db_, "SELECT org, digest FROM occurrence_sets");
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  return out;
}

std::optional<std::string> Store::occurrence_body(const std::string& org) {
  SQLite::Statement q(db_, "SELECT body FROM occurrence_sets WHERE org = ?");
  q.bind(1, org);
  if (!q.executeStep()) return std::nullopt;
  const SQLite::Column c = q.getColumn(0);
  return inflate_body(
      std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes())));
}

void Store::apply_derivation(const std::vector<OccurrenceSetChange>& sets,
                             const std::vector<RetiredOccurrence>& retired_list,
                             const std::vector<AuditEntry>& audit_entries, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement put(
      db_,
      "INSERT INTO occurrence_sets(org, digest, body, updated_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(org) DO UPDATE SET digest = excluded.digest, body = excluded.body, "
      "updated_at = excluded.updated_at");
  SQLite::Statement del(db_, "DELETE FROM occurrence_sets WHERE org = ?");
  for (const auto& s : sets) {
    if (s.digest.empty()) {
      del.bind(1, s.org);
      del.exec();
      del.reset();
      continue;
    }
    put.bind(1, s.org);
    put.bind(2, s.digest);
    put.bind(3, s.packed_body.data(), static_cast<int>(s.packed_body.size()));
    put.bind(4, now);
    put.exec();
    put.reset();
  }
  SQLite::Statement ret(
      db_,
      "INSERT OR REPLACE INTO retired(uid, org, obligation, person, window_start, due, "
      "retired_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const auto& r : retired_list) {
    ret.bind(1, r.uid);
    ret.bind(2, r.org);
    ret.bind(3, r.obligation);
    ret.bind(4, r.person);
    ret.bind(5, r.window_start);
    ret.bind(6, r.due);
    ret.bind(7, now);
    ret.exec();
    ret.reset();
  }
  for (const auto& a : audit_entries) append_audit(a.actor, a.action, a.subject, a.detail, now);
  tx.commit();
}

std::string Store::pack_body(const std::string& body) {
  return deflate_body(body);
}

std::vector<Store::RetiredOccurrence> Store::retired() {
  std::vector<RetiredOccurrence> out;
  SQLite::Statement q(
      db_, "SELECT uid, org, obligation, person, window_start, due FROM retired ORDER BY due, uid");
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                   q.getColumn(2).getString(), q.getColumn(3).getString(),
                   q.getColumn(4).getString(), q.getColumn(5).getString()});
  return out;
}

}  // namespace dutyd
