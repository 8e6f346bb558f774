"""Every relative link in the repository's Markdown files resolves: the file or folder exists and,
when the link names an anchor (`file.md#heading`, `#heading`), a heading of that file has that
anchor as GitHub computes it. External links (http:, https:, mailto:) are not followed.

  check_links.py SOURCE_DIR

Prints each broken link as FILE:LINE: what, and exits 1 when there is one.
"""
import os
import re
import subprocess
import sys
import unittest

LINK = re.compile(r"(?<!\!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def github_slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\W)|(?<=\W)_", "", heading)  # emphasis and code marks
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def markdown_lines(path):
    """(line number, text) of a Markdown file, outside fenced code blocks."""
    inside = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                inside = not inside
                continue
            if not inside:
                yield number, line


def anchors(path, cache={}):
    if path not in cache:
        seen, found = {}, set()
        for _, line in markdown_lines(path):
            for a in HTML_ANCHOR.findall(line):
                found.add(a)
            m = HEADING.match(line)
            if not m:
                continue
            slug = github_slug(m.group(2))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
        cache[path] = found
    return cache[path]


def tracked_markdown(root):
    """The Markdown files git tracks or would track (outside a git checkout: every one under root)."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard", "*.md"], check=True,
                             capture_output=True).stdout.decode()
        files = [os.path.join(root, p) for p in out.split("\0") if p]
        if files:
            return [f for f in files if os.path.exists(f)]
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "node_modules"
                   and not d.startswith("build")]
        found += [os.path.join(folder, n) for n in names if n.endswith(".md")]
    return found


def broken_links(root):
    problems = []
    for path in sorted(tracked_markdown(root)):
        rel = os.path.relpath(path, root)
        for number, line in markdown_lines(path):
            line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
            for target in LINK.findall(line) + IMAGE.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto:
                file_part, _, anchor = target.partition("#")
                dest = path if not file_part else os.path.normpath(
                    os.path.join(os.path.dirname(path), file_part))
                if not os.path.exists(dest):
                    problems.append(f"{rel}:{number}: {target}: {os.path.relpath(dest, root)} "
                                    "does not exist")
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    problems.append(f"{rel}:{number}: {target}: no heading with anchor "
                                    f"#{anchor} in {os.path.relpath(dest, root)}")
    return problems


class SlugTest(unittest.TestCase):
    """The anchor rule itself, on headings whose GitHub anchors are known."""

    def test_slugs(self):
        self.assertEqual(github_slug("Configuration reference"), "configuration-reference")
        self.assertEqual(github_slug("`[[org]]`"), "org")
        self.assertEqual(github_slug("What `check-config` reports"), "what-check-config-reports")
        self.assertEqual(github_slug("API: deliveries"), "api-deliveries")
        self.assertEqual(github_slug("密钥（凭据）"), "密钥凭据")
        self.assertEqual(github_slug("Sending, retries and fallbacks"),
                         "sending-retries-and-fallbacks")
        self.assertEqual(github_slug("ladder_for"), "ladder_for")

    def test_a_broken_link_is_found(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "a.md"), "w", encoding="utf-8") as f:
                f.write("# Title\n\n[ok](#title) [bad](#nothing) [gone](b.md) [b](a.md#title)\n"
                        "```\n[in code](missing.md)\n```\n")
            problems = broken_links(d)
            self.assertEqual(len(problems), 2, problems)
            self.assertIn("#nothing", problems[0])
            self.assertIn("b.md does not exist", problems[1])


if __name__ == "__main__":
    root = sys.argv.pop(1) if len(sys.argv) > 1 else "."
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(SlugTest)
    if not unittest.TextTestRunner(verbosity=0).run(suite).wasSuccessful():
        sys.exit(1)
    problems = broken_links(os.path.abspath(root))
    for p in problems:
        print(p)
    print(f"{len(problems)} broken link(s)")
    sys.exit(1 if problems else 0)
