#include "base/csv.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace dutyd {
namespace {

// OWASP's CSV-injection guidance: a cell a spreadsheet would evaluate is made text.
TEST(Csv, FormulaLeadsAreNeutralised) {
  EXPECT_EQ(csv_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(csv_cell("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
  EXPECT_EQ(csv_cell("-2+3"), "'-2+3");
  EXPECT_EQ(csv_cell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_cell("\tx"), "'\tx");
  EXPECT_EQ(csv_cell("\rx"), "\"'\rx\"");
}

TEST(Csv, NumbersAndOrdinaryTextStayAsTheyAre) {
  EXPECT_EQ(csv_cell("-3"), "-3");
  EXPECT_EQ(csv_cell("74.5"), "74.5");
  EXPECT_EQ(csv_cell("-0.5"), "-0.5");
  EXPECT_EQ(csv_cell("中共大连市委"), "中共大连市委");
  EXPECT_EQ(csv_cell(""), "");
  EXPECT_EQ(csv_cell("a=b"), "a=b");
  EXPECT_EQ(csv_cell("-"), "-");  // reports' "no figure"
  EXPECT_EQ(csv_cell("--"), "'--");
  EXPECT_EQ(csv_cell("-1-"), "'-1-");
}

TEST(Csv, QuotesAsRfc4180) {
  EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_cell("two\nlines"), "\"two\nlines\"");
  std::ostringstream out;
  csv_row(out, {"id", "=1", "名字,逗号"});
  EXPECT_EQ(out.str(), "id,'=1,\"名字,逗号\"\r\n");
}

}  // namespace
}  // namespace dutyd
