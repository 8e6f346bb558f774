#!/usr/bin/python3
"""Writes the man page dutyd(8) from docs/dutyd.8.in and the built binary's `dutyd --help`.

usage: man-page.py TEMPLATE DUTYD_BINARY VERSION OUTPUT

The help text is the one source of the commands: each group of lines indented by two spaces
(a command's synopsis, its continuation lines indented further) followed by lines indented by
six (what it does) becomes a synopsis kept as written, in bold, and an indented paragraph; an
unindented paragraph after the commands becomes a plain paragraph. The date is
SOURCE_DATE_EPOCH's (reproducible builds), else today's. Python 3 standard library only.
"""
import datetime
import os
import subprocess
import sys


def roff(text):
    """Escapes text for a roff line: backslashes, minus signs, a leading control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def commands(help_text):
    lines = help_text.splitlines()
    try:
        start = lines.index("commands:") + 1
    except ValueError:
        sys.exit("man-page.py: `dutyd --help` has no 'commands:' line; adjust the parser to the help")
    out, synopsis, description = [], [], []

    def flush():
        if synopsis:
            out.append(".PP\n.nf")
            out.extend("\\fB%s\\fR" % roff(s) for s in synopsis)
            out.append(".fi")
        if description:
            out.append(".RS\n%s\n.RE" % "\n".join(roff(d) for d in description))
        synopsis.clear()
        description.clear()

    paragraph = []
    for line in lines[start:]:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if not stripped or indent == 0 or (indent == 2 and description):
            flush()
        if not stripped:
            continue
        if indent == 0:
            paragraph.append(roff(stripped))
        elif indent == 6:
            description.append(stripped)
        else:  # a synopsis (indented by two) or its continuation (indented further)
            synopsis.append(line[2:].rstrip())
    flush()
    if paragraph:
        out.append(".PP\n" + "\n".join(paragraph))
    return "\n".join(out)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    template, binary, version, output = sys.argv[1:]
    help_text = subprocess.run([binary, "--help"], check=True, capture_output=True,
                               text=True).stdout
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    day = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).date() if epoch
           else datetime.date.today())
    with open(template, encoding="utf-8") as f:
        page = f.read()
    page = (page.replace("@DATE@", day.isoformat()).replace("@VERSION@", version)
            .replace("@COMMANDS@", commands(help_text)))
    with open(output + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main()
