#!/usr/bin/python3
"""Checks the obligation catalogue against the regulation text.

Every entry's quote must be a byte-exact substring of the article and item it cites; ids must
start with a<article>.<item>.; vague timing needs a timing_note; half-yearly rules must be the
one rule that gives 30 June and 31 December. Prints `N passed, M failed`.
usage: check_quotes.py obligations.toml implementation-rules.zh.txt
"""
import re
import sys
import tomllib

CN = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]


def chinese(n):
    if n <= 10:
        return CN[n]
    tens, ones = divmod(n, 10)
    return (CN[tens] if tens > 1 else "") + "十" + (CN[ones] if ones else "")


def article_block(lines, n):
    heads = [k for k, line in enumerate(lines) if line.startswith("第%s条" % chinese(n))]
    if len(heads) != 1:
        return None
    block = [lines[heads[0]]]
    for line in lines[heads[0] + 1:]:
        if line.startswith("第"):
            break
        block.append(line)
    return "\n".join(block)


def item_segment(block, item):
    if item == 0:
        return block
    marker = "\n(%s)" % chinese(item)
    start = block.find(marker)
    if start < 0:
        return None
    end = block.find("\n(%s)" % chinese(item + 1), start + 1)
    return block[start + len(marker): end if end >= 0 else len(block)]


def main():
    catalogue = tomllib.load(open(sys.argv[1], "rb"))["obligation"]
    lines = open(sys.argv[2], encoding="utf-8").read().split("\n")
    passed = failed = 0
    for o in catalogue:
        problems = []
        block = article_block(lines, o["article"])
        segment = item_segment(block, o["item"]) if block else None
        if segment is None:
            problems.append("article/item not found in the regulation")
        elif o["quote"] not in segment:
            problems.append("quote is not verbatim in %d.%d" % (o["article"], o["item"]))
        prefix = "a%d." % o["article"] + ("%d." % o["item"] if o["item"] else "")
        if not o["id"].startswith(prefix):
            problems.append("id does not start with " + prefix)
        vague = any(v in o["quote"] for v in ("年初", "年底", "及时", "定期", "适时"))
        if (vague or "event" in o) and not o.get("timing_note"):
            problems.append("vague timing without timing_note")
        if "BYMONTH=6,12" in o.get("rrule", "") and o["rrule"] != "FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1":
            problems.append("half-yearly rule must be FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1")
        if problems:
            failed += 1
            for p in problems:
                print("%s: %s" % (o["id"], p))
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
