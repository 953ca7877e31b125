#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""The man pages docs/man/*.1 against what the programs say about themselves.

Usage: man_test.py NET_SERVER NET_CLIENT NET_BENCH MAN_DIR [unittest args]

For each program, from its --help (net-bench: also each subcommand's --help):
 - every long option is the tag of an entry in OPTIONS, whose text gives the default
   shown as (=VALUE); a net-bench option that only some subcommands take names them;
 - every exit code after "Exit status:" is the tag of an entry in EXIT STATUS;
 - every LIBNET_NAME variable is in ENVIRONMENT, every net-client command in COMMANDS;
and, when groff is installed, each page formats without a warning (groff -man -ww).
Only this direction is checked: a page may document more than --help shows.
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

PROGRAMS = {}  # name -> path of the binary
MAN_DIR = None
TIMEOUT = 10
SPDX = '.\\" SPDX-License-Identifier: BSL-1.0'
SECTIONS = {
    "net-server": ["ENVIRONMENT", "FILES", "SIGNALS", "EXAMPLES"],
    "net-client": ["COMMANDS", "SIGNALS", "EXAMPLES"],
    "net-bench": ["SUBCOMMANDS", "EXAMPLES"],
}
COMMON_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"]

# --- what --help says -------------------------------------------------------------------

OPTION_LINE = re.compile(r"^  (?:-\w \[ )?--([a-z0-9][a-z0-9-]*)(?: \])?(?: arg)?"
                         r"(?: \(=([^)]*)\))?")
LONG_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")


def run_help(program, *args):
    r = subprocess.run([PROGRAMS[program], *args, "--help"], capture_output=True, text=True,
                       timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError(f"{program} {' '.join(args)} --help exited {r.returncode}: "
                             f"{r.stderr}")
    return r.stdout


def help_options(program, text):
    """{option: set of defaults} from the option lines and the usage lines of `text`."""
    options = {}
    for line in text.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            options.setdefault(m.group(1), set())
            if m.group(2):
                options[m.group(1)].add(m.group(2))
        stripped = line.strip()
        if stripped.startswith("Usage:") or stripped.startswith(program + " "):
            for o in LONG_OPTION.findall(stripped):
                options.setdefault(o, set())
    return options


def exit_codes(text):
    m = re.search(r"Exit status:(.*?)(?:\n\s*\n|\Z)", text, re.S)
    if not m:
        return None
    return re.findall(r"(?:^|[;,])\s*(\d{1,3})\b", " ".join(m.group(1).split()))


def block(text, heading):
    """The indented lines under the line that starts with `heading`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(heading):
            out = []
            for following in lines[i + 1:]:
                if not following.startswith("  "):
                    break
                out.append(following)
            return out
    return []


# --- what the page says -----------------------------------------------------------------

ESCAPE = re.compile(r"\\(f(?:\[[^\]]*\]|\(..|.)|\(..|.)")
SIMPLE_ESCAPES = {"-": "-", "e": "\\", "&": "", "%": "", " ": " ", "|": "", "^": "",
                  "~": " ", "0": " "}
GLYPHS = {"(em": "--", "(en": "-", "(hy": "-", "(mi": "-", "(aq": "'", "(dq": '"'}
ALTERNATING = {"BI", "BR", "IB", "IR", "RB", "RI"}


def plain(text):
    def one(m):
        esc = m.group(1)
        if esc.startswith("f"):
            return ""
        if esc.startswith("("):
            return GLYPHS.get(esc, "")
        return SIMPLE_ESCAPES.get(esc, esc)
    return ESCAPE.sub(one, text)


def macro_args(s):
    """A request's arguments: separated by spaces, "quoted" ones may hold spaces."""
    out, cur, started, quoted, i = [], "", False, False, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur, started, i = cur + s[i:i + 2], True, i + 2
            continue
        if quoted:
            if c == '"' and s[i + 1:i + 2] == '"':
                cur, i = cur + '"', i + 2
                continue
            if c == '"':
                quoted = False
            else:
                cur += c
        elif c == '"' and not started:
            quoted = started = True
        elif c in " \t":
            if started:
                out.append(cur)
                cur, started = "", False
        else:
            cur, started = cur + c, True
        i += 1
    if started:
        out.append(cur)
    return out


class Entry:
    def __init__(self, tag):
        self.tag = " ".join(tag.split())
        self.body = []

    def text(self):
        return " ".join(" ".join(self.body).split())


class Page:
    """A man page: its .TH, its sections' text and the .TP entries of each section."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().splitlines()
        self.th = []
        self.text = {}     # section -> its plain text
        self.entries = {}  # section -> [Entry]
        section, entry, want_tag, depth = None, None, False, 0
        for raw in self.lines:
            name, args = None, None
            if raw.startswith((".", "'")):
                if raw.startswith(('.\\"', "'\\\"")) or raw.strip() in (".", "'"):
                    continue
                parts = raw[1:].strip().split(None, 1)
                name, args = parts[0], macro_args(parts[1] if len(parts) > 1 else "")
            if name == "TH":
                self.th = [plain(a) for a in args]
                continue
            if name == "SH":
                section, entry, want_tag, depth = plain(" ".join(args)), None, False, 0
                self.text[section], self.entries[section] = "", []
                continue
            if section is None:
                continue
            if name in ("SS", "PP", "P", "LP") and depth == 0 or name == "TP":
                entry = None
                want_tag = name == "TP"
                continue
            if name == "RS":
                depth += 1
            if name == "RE":
                depth = max(0, depth - 1)
            line = self.render(name, args, raw)
            if line is None:
                continue
            if want_tag:
                entry, want_tag = Entry(line), False
                self.entries[section].append(entry)
            elif entry is not None:
                entry.body.append(line)
            self.text[section] += " " + line

    @staticmethod
    def render(name, args, raw):
        if name is None:
            return plain(raw)
        if name in ("B", "I", "SM", "SB", "SY"):
            return plain(" ".join(args))
        if name in ALTERNATING:
            return plain("".join(args))
        if name == "OP":
            return "[" + plain(" ".join(args)) + "]"
        return None  # .RS, .EX, .br and the like carry no text

    def tags(self, section):
        return [e.tag for e in self.entries.get(section, [])]


def mentions(text, token):
    """`token` in `text` as a whole word (a sentence's full stop may follow)."""
    return re.search(r"(?<![\w.-])" + re.escape(token) + r"(?![\w-]|\.\w)", text) is not None


def option_entries(page, option):
    return [e for e in page.entries.get("OPTIONS", [])
            if re.search(r"(?<![\w-])--" + re.escape(option) + r"(?![\w-])", e.tag)]


# --- the checks -------------------------------------------------------------------------


class ManPages(unittest.TestCase):
    def page(self, program):
        path = os.path.join(MAN_DIR, program + ".1")
        self.assertTrue(os.path.isfile(path), f"no man page {path}")
        return Page(path)

    def helps(self, program):
        """[(subcommand or None, --help text)]: net-bench's subcommands each have one."""
        top = run_help(program)
        if program != "net-bench":
            return [(None, top)]
        subs = [l.split()[0] for l in block(top, "Subcommands:") if re.match(r"  [a-z]", l)]
        self.assertTrue(subs, "net-bench --help lists no subcommands")
        return [(None, top)] + [(s, run_help(program, s)) for s in subs]

    def test_layout(self):
        for program, extra in SECTIONS.items():
            with self.subTest(program=program):
                page = self.page(program)
                self.assertEqual(page.lines[0], SPDX, "the first line names the license")
                self.assertEqual(page.th[:2], [program.upper(), "1"], ".TH")
                missing = [s for s in COMMON_SECTIONS + extra if s not in page.text]
                self.assertFalse(missing, f"{program}(1) has no section {missing}")
                self.assertIn(f"{program} - ", page.text["NAME"].strip() + " ")

    def test_every_option_with_its_default(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                page, problems = self.page(program), []
                helps = self.helps(program)
                per_sub = {sub: help_options(program, text) for sub, text in helps}
                subs = [s for s in per_sub if s is not None]
                options = {}
                for found in per_sub.values():
                    for o, defaults in found.items():
                        options.setdefault(o, set()).update(defaults)
                for o, defaults in sorted(options.items()):
                    entries = option_entries(page, o)
                    if not entries:
                        problems.append(f"--{o} is not documented in OPTIONS")
                        continue
                    text = " ".join(e.text() for e in entries)
                    for d in sorted(defaults):
                        if d and not mentions(text, d):
                            problems.append(f"--{o}: the default {d!r} of --help is not in "
                                            f"its entry: {text!r}")
                    takers = [s for s in subs if o in per_sub[s]]
                    if takers and len(takers) < len(subs):
                        for s in takers:
                            if not mentions(text, s):
                                problems.append(f"--{o}: its entry does not say that "
                                                f"'{s}' takes it")
                self.assertFalse(problems, f"{program}(1) against --help:\n  " +
                                 "\n  ".join(problems))

    def test_every_exit_code(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                codes = exit_codes(run_help(program))
                self.assertTrue(codes, f"{program} --help names no exit status")
                tags = self.page(program).tags("EXIT STATUS")
                missing = [c for c in codes if c not in tags]
                self.assertFalse(missing, f"{program}(1): exit status {missing} of --help is "
                                          f"not an entry of EXIT STATUS (it has {tags})")

    def test_environment_variables(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                names = set(re.findall(r"\bLIBNET_[A-Z][A-Z0-9_]*[A-Z0-9]\b",
                                       run_help(program)))
                if not names:
                    continue
                env = self.page(program).text.get("ENVIRONMENT", "")
                missing = sorted(n for n in names if not mentions(env, n))
                self.assertFalse(missing, f"{program}(1): {missing} not in ENVIRONMENT")

    def test_net_client_commands(self):
        lines = [l for l in block(run_help("net-client"), "Commands") if re.match(r"  [@!*/]", l)]
        # The descriptions start in one column; a long command may leave one space before it.
        starts = [m.end() for m in map(re.compile(r"  \S.*?\s{2,}").match, lines) if m]
        column = max(set(starts), key=starts.count) if starts else 0
        commands = [l[:column].strip() for l in lines]
        self.assertTrue(commands, "net-client --help lists no commands")
        tags = self.page("net-client").tags("COMMANDS")
        missing = [c for c in commands if c not in tags]
        self.assertFalse(missing, f"net-client(1): commands {missing} are not entries of "
                                  f"COMMANDS (it has {tags})")

    def test_groff_formats_without_warnings(self):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff is not installed (Debian: groff-base)")
        for program in PROGRAMS:
            with self.subTest(program=program):
                path = os.path.join(MAN_DIR, program + ".1")
                r = subprocess.run([groff, "-man", "-ww", "-z", "-Tutf8", path],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual((r.returncode, r.stderr), (0, ""),
                                 f"groff -man -ww on {path}")


if __name__ == "__main__":
    for name, path in zip(("net-server", "net-client", "net-bench"), sys.argv[1:4]):
        PROGRAMS[name] = path
    MAN_DIR = sys.argv[4]
    unittest.main(argv=[sys.argv[0]] + sys.argv[5:], verbosity=2)
