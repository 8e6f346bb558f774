// The loader's shared value helpers: typed access to a TOML table (TableReader), organisation
// selectors and level masks, and the wording of suggestions.
#include "config/loader_internal.hpp"

namespace dutyd::detail {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string suggest(std::string_view word, const std::vector<std::string_view>& choices) {
  std::string_view best;
  std::size_t best_d = 3;
  for (auto c : choices) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best.empty() ? std::string{} : "did you mean '" + std::string(best) + "'? ";
}

// Ids end up in UIDs, file names and URLs: keep them to a safe ASCII set.
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::string join(const std::vector<std::string_view>& v, const char* sep) {
  std::string out;
  for (auto s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

// ---- TableReader -------------------------------------------------------------------------

const toml::node* TableReader::get(std::string_view key, bool required) {
  const toml::node* n = table_.get(key);
  if (!n && required)
    loader_.error(loc(), "missing required key '" + std::string(key) + "' in " + what_ + kDash +
                             "add " + std::string(key) + " = ...");
  return n;
}

void TableReader::wrong_type(std::string_view key, const toml::node& n, const char* expected,
                             const std::string& example) {
  loader_.error(loc_of(file_, n.source()),
                "'" + std::string(key) + "' in " + what_ + ": expected " + expected + " but got " +
                    type_name(n.type()) + kDash + "write it as " + example);
}

std::optional<std::string> TableReader::string(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto s = n->as_string()) return s->get();
  wrong_type(key, *n, "a string", std::string(key) + " = \"...\"");
  return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto i = n->as_integer()) return i->get();
  wrong_type(key, *n, "an integer", std::string(key) + " = 15");
  return std::nullopt;
}

std::optional<int> TableReader::integer_in(std::string_view key, int lo, int hi) {
  const auto v = integer(key);
  if (!v) return std::nullopt;
  if (*v < lo || *v > hi) {
    loader_.error(loc(key), std::string(key) + " must be between " + std::to_string(lo) + " and " +
                                std::to_string(hi) + kDash + "pick a value in that range");
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* n = get(key, false);
  if (!n) return std::nullopt;
  if (auto b = n->as_boolean()) return b->get();
  wrong_type(key, *n, "a boolean", std::string(key) + " = true");
  return std::nullopt;
}

std::optional<Day> TableReader::date(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto d = n->as_date()) {
    const toml::date v = d->get();
    if (!is_valid_date(v.year, v.month, v.day)) {
      loader_.error(loc_of(file_, n->source()), "'" + std::string(key) + "' in " + what_ +
                                                    " is not a usable date" + kDash +
                                                    "use a real date between 1900 and 2999");
      return std::nullopt;
    }
    return make_day(v.year, v.month, v.day);
  }
  std::string hint = std::string(key) + " = 2025-03-01 (a TOML date, without quotes)";
  if (auto s = n->as_string(); s && parse_day(s->get()))
    hint = std::string(key) + " = " + s->get() + " without the quotes";
  wrong_type(key, *n, "a date", hint);
  return std::nullopt;
}

std::optional<std::vector<StringAt>> TableReader::strings(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  const toml::array* a = n->as_array();
  if (!a) {
    wrong_type(key, *n, "an array of strings", std::string(key) + " = [\"...\", \"...\"]");
    return std::nullopt;
  }
  std::vector<StringAt> out;
  bool ok = true;
  for (const toml::node& el : *a) {
    if (auto s = el.as_string()) {
      out.push_back({s->get(), loc_of(file_, el.source())});
    } else {
      ok = false;
      loader_.error(loc_of(file_, el.source()),
                    "'" + std::string(key) + "' in " + what_ + ": expected a string but got " +
                        type_name(el.type()) + kDash + "quote every element");
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

void TableReader::finish(const std::vector<std::string_view>& known) {
  for (auto&& [k, v] : table_) {
    if (contains(known, k.str())) continue;
    loader_.error(loc_of(file_, k.source()), "unknown key '" + std::string(k.str()) + "' in " +
                                                 what_ + kDash + suggest(k.str(), known) +
                                                 "known keys: " + join(known));
  }
}

std::optional<std::vector<OrgSelector>> selectors(Reporter& rep, const std::vector<StringAt>& v) {
  std::vector<OrgSelector> out;
  bool ok = true;
  for (const auto& s : v) {
    const auto colon = s.value.find(':');
    const std::string kind = s.value.substr(0, colon);
    const std::string sub = colon == std::string::npos ? "" : s.value.substr(colon + 1);
    auto k = kKinds.find(kind);
    if (!k) {
      rep.error(s.loc, "unknown kind '" + kind + "' in applies_to" + kDash +
                           suggest(kind, kKinds.names()) +
                           "use kind or kind:subtype with kind one of: " + join(kKinds.names()));
      ok = false;
      continue;
    }
    if (!sub.empty()) {
      const std::vector<std::string_view>* allowed = *k == OrgKind::party_group ? &kPartyGroups
                                                     : *k == OrgKind::leading_group
                                                         ? &kLeadingGroups
                                                     : *k == OrgKind::department ? &kDepartments
                                                                                 : nullptr;
      if (!allowed || !contains(*allowed, sub)) {
        rep.error(s.loc,
                  "unknown subtype '" + sub + "' for kind " + kind + kDash +
                      (allowed ? "use one of: " + join(*allowed)
                               : std::string("this kind has no subtypes; write just ") + kind));
        ok = false;
        continue;
      }
    }
    out.push_back({*k, sub});
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::uint8_t> level_mask(Reporter& rep, const std::vector<StringAt>& v) {
  std::uint8_t mask = 0;
  bool ok = true;
  for (const auto& s : v) {
    if (auto l = kLevels.find(s.value)) {
      mask = static_cast<std::uint8_t>(mask | (1u << static_cast<unsigned>(*l)));
    } else {
      rep.error(s.loc, "unknown level '" + s.value + "'" + kDash +
                           suggest(s.value, kLevels.names()) +
                           "use one of: " + join(kLevels.names()));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return mask;
}

}  // namespace dutyd::detail
