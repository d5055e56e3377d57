#!/usr/bin/env python3
"""A benchmark's printed output as a markdown report (ops/bench-hub.sh
--report): headed by the date, the machine, the versions and the commit it
ran on, so that a figure quoted in docs/performance.md says where it came
from.

    bench-report.py --command "ops/bench-hub.sh ..." --status RC <out >report.md

Output shape: "== title" lines become sections, two-space lines list
items, deeper lines (tables of aligned columns) code blocks.
"""
import argparse
import os
import platform
import subprocess
import sys
import time


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def field(path, prefix, sep):
    """The value of the first line of `path` that starts with `prefix`."""
    try:
        for line in open(path, encoding="utf-8"):
            if line.startswith(prefix):
                return line.split(sep, 1)[1].strip()
    except OSError:
        pass
    return ""


def machine():
    cpu = field("/proc/cpuinfo", "model name", ":")
    mem = field("/proc/meminfo", "MemTotal", ":")
    if mem:
        mem = "%.0f GiB" % (int(mem.split()[0]) / 1024 / 1024)
    osname = field("/etc/os-release", "PRETTY_NAME=", "=").strip('"')
    return "%d cores (%s), %s RAM, %s, kernel %s" % (
        os.cpu_count() or 0, cpu or "unknown CPU", mem or "unknown",
        osname or "unknown OS", platform.release())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--command", required=True)
    ap.add_argument("--status", type=int, default=0)
    a = ap.parse_args()
    pg = run("psql", "--version")
    rdk = run("pkg-config", "--modversion", "rdkafka")
    commit = run("git", "log", "-1", "--format=%h %s")
    dirty = run("git", "status", "--porcelain", "--untracked-files=no")
    out = sys.stdout
    out.write("# gridhub pipeline benchmark\n\n")
    out.write("- date: %s\n" % time.strftime("%Y-%m-%d %H:%M UTC",
                                               time.gmtime()))
    out.write("- command: `%s`\n" % a.command)
    out.write("- result: %s\n" % ("passed" if a.status == 0 else
                                   "FAILED (exit %d)" % a.status))
    out.write("- machine: %s\n" % machine())
    out.write("- software: %s; librdkafka %s (the embedded broker is its "
              "mock cluster)\n" % (pg or "PostgreSQL unknown", rdk or "?"))
    out.write("- commit: %s%s\n" % (commit[:100] or "unknown",
                                    " (with local changes)" if dirty else ""))
    code = False
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        deep = line.startswith("    ")
        if code and not deep:
            out.write("```\n")
            code = False
        if line.startswith("== "):
            out.write("\n## %s\n\n" % line[3:])
        elif deep:
            if not code:
                out.write("```\n")
                code = True
            out.write(line[4:] + "\n")
        elif line.startswith("  "):
            out.write("- %s\n" % line.strip())
        elif line.strip():
            out.write("%s\n" % line)
    if code:
        out.write("```\n")


if __name__ == "__main__":
    main()
