"""Shared by the feed validators: turn command-line arguments into the .ics files to check."""
import os


def collect_paths(args):
    """Expands directories into their *.ics files; returns a list of (path, error)."""
    out = []
    for arg in args:
        if os.path.isdir(arg):
            names = sorted(n for n in os.listdir(arg)
                           if n.endswith(".ics") and os.path.isfile(os.path.join(arg, n)))
            if not names:
                out.append((arg, "directory contains no .ics files"))
            for n in names:
                out.append((os.path.join(arg, n), None))
        else:
            out.append((arg, None))
    return out
