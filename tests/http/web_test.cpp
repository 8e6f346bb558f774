// The pure helpers of the HTTP surface (http/web.hpp): escaping, percent-coding, parameters,
// cookies and the dashboard's subtree rule.
#include "http/web.hpp"
#include "base/text.hpp"

#include <gtest/gtest.h>

namespace dutyd {
namespace {

TEST(HtmlEscape, EscapesEveryMarkupCharacterAndKeepsTheRest) {
  EXPECT_EQ(html_escape("<a href=\"x\" onclick='y'>&amp;</a>"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(html_escape("中共大连市委 第六条第（一）项"), "中共大连市委 第六条第（一）项");
  EXPECT_EQ(html_escape(""), "");
  const std::string escaped = html_escape("</td><script>alert(1)</script>");
  EXPECT_EQ(escaped.find('<'), std::string::npos);
  EXPECT_EQ(escaped.find('>'), std::string::npos);
}

TEST(UrlCoding, RoundTripsUidsAndRejectsMalformedEscapes) {
  const std::string uid = "a6.15.inspect-subordinates/dl/2026/dl-bgs@dutyd";
  const std::string enc = percent_encode(uid);
  EXPECT_EQ(enc, "a6.15.inspect-subordinates%2Fdl%2F2026%2Fdl-bgs%40dutyd");
  EXPECT_EQ(url_decode(enc, false), uid);
  EXPECT_EQ(url_decode(percent_encode("中 文&="), false), "中 文&=");
  EXPECT_EQ(url_decode("a+b", true), "a b");
  EXPECT_EQ(url_decode("a+b", false), "a+b");
  EXPECT_EQ(url_decode("%zz", false), std::nullopt);
  EXPECT_EQ(url_decode("%4", false), std::nullopt);
}

TEST(Params, QueryStringsAndForms) {
  auto p = target_params("/dashboard/org?id=dl&year=2026&&page=2");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size(), 3u);
  EXPECT_EQ(p->at("id"), "dl");
  EXPECT_EQ(p->at("page"), "2");
  EXPECT_TRUE(target_params("/dashboard/")->empty());
  EXPECT_FALSE(target_params("/dashboard/org?id=%G1"));
  auto form = parse_params("token=abc%2B+def", true);
  ASSERT_TRUE(form);
  EXPECT_EQ(form->at("token"), "abc+ def");
}

TEST(Cookies, FindsTheNamedCookieOnly) {
  EXPECT_EQ(cookie_value("a=1; dutyd_dashboard=SECRET; b=2", "dutyd_dashboard"), "SECRET");
  EXPECT_EQ(cookie_value("dutyd_dashboard=\"Q\"", "dutyd_dashboard"), "Q");
  EXPECT_EQ(cookie_value("xdutyd_dashboard=1; dutyd_dashboardx=2", "dutyd_dashboard"),
            std::nullopt);
  EXPECT_EQ(cookie_value("", "dutyd_dashboard"), std::nullopt);
  EXPECT_EQ(cookie_value("dutyd_dashboard", "dutyd_dashboard"), std::nullopt);
  EXPECT_EQ(cookie_value(" dutyd_dashboard = v ;", "dutyd_dashboard"), "v");
}

TEST(Cookies, SetCookieIsHttpOnlyStrictAndSecureOnHttps) {
  EXPECT_EQ(set_cookie("c", "v", "/dashboard", false),
            "c=v; Path=/dashboard; HttpOnly; SameSite=Strict");
  EXPECT_EQ(set_cookie("c", "v", "/dashboard", true),
            "c=v; Path=/dashboard; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(set_cookie("c", "v", "/dashboard", false, true),
            "c=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0");
}

TEST(Subtree, AnOrganisationSeesItselfAndBelowOnly) {
  Config c;
  c.orgs.resize(4);
  c.orgs[0].parent = -1;  // province
  c.orgs[1].parent = 0;   // city
  c.orgs[2].parent = 1;   // its department
  c.orgs[3].parent = 0;   // another city
  EXPECT_TRUE(in_subtree(c, 2, 1));
  EXPECT_TRUE(in_subtree(c, 1, 1));
  EXPECT_TRUE(in_subtree(c, 2, 0));
  EXPECT_FALSE(in_subtree(c, 0, 1));
  EXPECT_FALSE(in_subtree(c, 3, 1));
  EXPECT_FALSE(in_subtree(c, -1, 1));
  c.orgs[0].parent = 2;  // a cycle (the loader refuses one) ends instead of looping
  EXPECT_FALSE(in_subtree(c, 2, 3));
}

}  // namespace
}  // namespace dutyd
