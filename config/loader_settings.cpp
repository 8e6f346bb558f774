// The main file's settings: [daemon] and [accountability].
#include "config/loader_internal.hpp"

namespace dutyd::detail {

void FileReader::read_daemon(const toml::table& t, const fs::path& base) {
  TableReader r(*this, file_, t, "[daemon]");
  if (!part_.daemon) part_.daemon.emplace();
  DaemonSettings& d = *part_.daemon;
  if (auto v = r.string("listen")) {
    // host:port or [v6]:port with a numeric port.
    const auto colon = v->rfind(':');
    const std::string port = colon == std::string::npos ? "" : v->substr(colon + 1);
    const bool numeric = !port.empty() && port.size() <= 5 &&
                         port.find_first_not_of("0123456789") == std::string::npos &&
                         std::stoi(port) > 0 && std::stoi(port) < 65536;
    if (colon == std::string::npos || colon == 0 || !numeric)
      error(r.loc("listen"), "listen '" + *v + "' is not host:port" + std::string(kDash) +
                                 "write e.g. \"127.0.0.1:8088\" or \"[::1]:8088\"");
    else
      d.listen = *v;
  }
  auto resolve = [&](const std::string& p) {
    return fs::path(p).is_absolute() ? p : (base / p).string();
  };
  if (auto v = r.string("database")) d.database = resolve(*v);
  if (auto v = r.string("credentials_dir")) d.credentials_dir = resolve(*v);
  if (auto v = r.string("public_url")) {
    std::string u = *v;
    while (!u.empty() && u.back() == '/') u.pop_back();
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
      error(r.loc("public_url"),
            "public_url '" + *v + "' is not an http(s) URL" + std::string(kDash) +
                "write the address officials reach dutyd at, e.g. \"https://duty.example.gov.cn\"");
    else
      d.public_url = u;
  }
  auto bounded = [&](const char* key, int lo, int hi, int& out) {
    if (auto v = r.integer_in(key, lo, hi)) out = *v;
  };
  bounded("link_ttl_days", 1, 3650, d.link_ttl_days);
  bounded("horizon_years_back", 0, 10, d.horizon_years_back);
  bounded("horizon_years_ahead", 0, 5, d.horizon_years_ahead);
  r.finish({"listen", "database", "public_url", "credentials_dir", "link_ttl_days",
            "horizon_years_back", "horizon_years_ahead"});
}

void FileReader::read_accountability(const toml::table& t) {
  TableReader r(*this, file_, t, "[accountability]");
  AccountabilitySettings a;
  auto bounded = [&](const char* key, int lo, int hi, int& out) {
    if (auto v = r.integer_in(key, lo, hi)) out = *v;
  };
  bounded("grace_days", 0, 365, a.grace_days);
  bounded("serious_days", 1, 3650, a.serious_days);
  bounded("grave_days", 1, 3650, a.grave_days);
  bounded("serious_repeats", 1, 100, a.serious_repeats);
  bounded("serious_open", 1, 10000, a.serious_open);
  bounded("look_back_periods", 0, 10, a.look_back_periods);
  r.finish({"grace_days", "serious_days", "grave_days", "serious_repeats", "serious_open",
            "look_back_periods"});
  if (a.grave_days <= a.serious_days)
    error(r.loc(t.get("grave_days") ? "grave_days" : "serious_days"),
          "grave_days (" + std::to_string(a.grave_days) + ") must be greater than serious_days (" +
              std::to_string(a.serious_days) + ")" + kDash +
              "严重 starts later than 较重: raise grave_days or lower serious_days");
  part_.accountability = a;
}

}  // namespace dutyd::detail
