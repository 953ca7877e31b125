#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""tools/wireshark/libnet.lua against docs/protocol.md.

Builds a capture of its own (wireshark_capture.py): every frame example of protocol.md §2-§16
over TCP, frames made here for every frame type of §3 with every field §4.2 gives it, frames
split across TCP segments and several in one segment, a direct link on a port found by the
heuristic, a stream on a port set by preference, malformed frames, a TLS session with its key
log, and the UDP transport: §17.8's datagrams, packets of whole frames and of fragments, and
malformed datagrams. tshark dissects it with the Lua dissector into PDML, and every frame must
come out with its type's name and every field with its name and value (as the breakdowns of
protocol.md give them), malformed input with the expected expert info, and nothing with a Lua
error or a "Malformed Packet".

usage: wireshark_test.py PROTOCOL_MD LIBNET_LUA [--keep DIR]
                         [--tshark PATH] [--text2pcap PATH] [--mergecap PATH] [--openssl PATH]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wireshark_capture import (PREF_PORT, TCP_PORT, TOOLS, Suite, run, tool,  # noqa: E402
                               write_capture)

def tshark_prefix(lua, env):
    """tshark with the dissector loaded, checked with -G defaultprefs. Some Wireshark builds
    run no Lua for root (init.lua's run_user_scripts_when_superuser; Debian 12's runs it):
    there, as root, tshark runs as nobody instead."""
    tshark = tool("tshark")
    tries = [[tshark]]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        tries.append([shutil.which("setpriv"), "--reuid=65534", "--regid=65534",
                      "--clear-groups", tshark])
    for prefix in tries:
        r = run(prefix + ["-G", "defaultprefs", "-X", "lua_script:" + lua], env=env)
        if "libnet.tcp_ports" in r.stdout:
            return prefix, r.stdout, r.stderr
    raise SystemExit("tshark did not load %s:\n%s" % (lua, r.stderr))


def check_defaults(prefs):
    errors = []
    for line in ("#libnet.tcp_ports: 7000", "#libnet.max_frame: 1048576",
                 "#libnet_udp.udp_ports: 7000"):
        if line not in prefs:
            errors.append("default preference not as documented: " + line)
    return errors


# -- Reading tshark's PDML ------------------------------------------------------------------------


def fields_of(elem):
    return [f for f in elem.iter("field")]


def value_of(f):
    v = f.get("value")
    if v is None:
        return b""
    try:
        return bytes.fromhex(v)
    except ValueError:
        return None


def as_int(show):
    try:
        return int(show, 16) if show.startswith("0x") else int(show)
    except (ValueError, AttributeError):
        return None


def check_literal(abbrev, literal, f, where, encoding):
    """A breakdown's "value = ..." against the field tshark shows."""
    if literal is None:
        return []
    show, showname = f.get("show", ""), f.get("showname", "")
    if literal.startswith('"') and literal.endswith('"'):
        text = literal[1:-1]
        if value_of(f) != text.encode() or (encoding == "string" and show != text):
            return ["%s: %s shows %r, protocol.md says %s" % (where, abbrev, show, literal)]
        return []
    head = literal.split()[0]
    number = as_int(head)
    if number is None:
        return []
    errors = []
    if as_int(show) != number:
        errors.append("%s: %s shows %r, protocol.md says %s" % (where, abbrev, show, literal))
    named = ("libnet.code", "libnet.reason", "libnet.ref_type", "libnet.flags")
    if "(" in literal and abbrev in named:
        notes = literal[literal.index("(") + 1:literal.rindex(")")]
        for part in notes.replace("=", ",").split(","):
            word = part.strip()
            if word and not word.startswith("0x") and word not in showname:
                errors.append("%s: %s is %r, protocol.md calls it %s"
                              % (where, abbrev, showname, word))
    return errors


def check_frame(exp, proto, names, where):
    """names: {abbrev: encoding} of the value fields."""
    errors = []
    fs = fields_of(proto)
    types = [f for f in fs if f.get("name") == "libnet.type"]
    if not types or exp.type_text not in types[0].get("showname", ""):
        shown = types[0].get("showname") if types else None
        errors.append("%s: type %r, expected %s" % (where, shown, exp.type_text))
    got = [f for f in fs if f.get("name") in names and f.get("name") != "libnet.entry"]
    if exp.fields:
        want = [a for a, _, _ in exp.fields]
        have = [f.get("name") for f in got]
        if want != have:
            errors.append("%s: fields %s, expected %s" % (where, have, want))
        else:
            for (abbrev, raw, literal), f in zip(exp.fields, got):
                if raw is not None and value_of(f) != raw:
                    errors.append("%s: %s holds %s, expected %s"
                                  % (where, abbrev, f.get("value"), raw.hex()))
                errors += check_literal(abbrev, literal, f, where, names[abbrev])
    present = {f.get("name") for f in fs}
    for n in sorted(exp.names - present):
        errors.append("%s: no %s" % (where, n))
    experts = sorted(f.get("name")[len("libnet.expert."):] for f in fs
                     if f.get("name", "").startswith("libnet.expert."))
    if experts != exp.experts:
        errors.append("%s: expert info %s, expected %s" % (where, experts, exp.experts))
    return errors


def check_packet(p, pkt, number, names):
    where = "packet %d" % number
    errors = []
    if p.anything:
        return errors
    protos = [e for e in pkt.findall("proto")]
    protocols = next((f.get("show") for f in pkt.iter("field")
                      if f.get("name") == "frame.protocols"), "")
    for name in p.protocols:
        if name not in protocols.split(":"):
            errors.append("%s: protocols %s, expected %s among them" % (where, protocols, name))
    frames = [e for e in protos if e.get("name") == "libnet"]
    if len(frames) != len(p.frames):
        errors.append("%s: %d libnet frames, expected %d (%s)"
                      % (where, len(frames), len(p.frames), [f.get("showname") for f in frames]))
    for i, (exp, proto) in enumerate(zip(p.frames, frames)):
        errors += check_frame(exp, proto, names, "%s frame %d" % (where, i + 1))
    udp = [e for e in protos if e.get("name") == "libnet_udp"]
    if p.udp:
        if len(udp) != 1:
            return errors + ["%s: no libnet_udp datagram" % where]
        kind, values = p.udp
        fs = fields_of(udp[0])
        if kind not in udp[0].get("showname", "") and kind != "unknown kind":
            errors.append("%s: datagram %r, expected %s" % (where, udp[0].get("showname"), kind))
        for abbrev, show in values.items():
            attr = "showname" if abbrev.endswith(".range") else "show"
            shown = [f.get(attr) for f in fs if f.get("name") == abbrev]
            if show not in shown:
                errors.append("%s: %s is %s, expected %s" % (where, abbrev, shown, show))
        experts = sorted(f.get("name")[len("libnet_udp.expert."):] for f in fs
                         if f.get("name", "").startswith("libnet_udp.expert."))
        if experts != p.experts:
            errors.append("%s: expert info %s, expected %s" % (where, experts, p.experts))
    elif udp:
        errors.append("%s: an unexpected libnet_udp datagram" % where)
    return errors


def check(suite, pdml, stderr):
    errors = []
    for line in stderr.splitlines():
        if line.strip() and not line.startswith("Running as user"):
            errors.append("tshark: " + line)
    root = ET.fromstring(pdml)
    packets = root.findall("packet")
    expected = [p for _, _, _, ps in suite.streams for p in ps]
    if len(packets) != len(expected):
        return errors + ["%d packets in the capture, %d expected" % (len(packets), len(expected))]
    names = {suite.abbrev(t): v[1] for t, v in suite.tags.items()}
    for i, (p, pkt) in enumerate(zip(expected, packets)):
        errors += check_packet(p, pkt, i + 1, names)
    seen_types, seen = set(), set()
    for pkt in packets:
        for f in pkt.iter("field"):
            name = f.get("name", "")
            seen.add(name)
            if name in ("libnet.type", "libnet.ref_type"):
                seen_types.add(f.get("showname", ""))
            text = f.get("show", "") + f.get("showname", "")
            if name in ("_ws.malformed", "_ws.lua.error") or "Lua Error" in text:
                number = pkt.find("proto").find("field").get("show")
                errors.append("%s in packet %s: %s" % (name, number, text))
    for t, name in sorted(suite.types.items()):
        if not any(s.startswith("Frame type: %s (0x%04x)" % (name, t)) for s in seen_types):
            errors.append("frame type %s (0x%04x) never named" % (name, t))
    for tag in sorted(suite.tags):
        if suite.abbrev(tag) not in seen:
            errors.append("tag %d (%s) never shown as %s"
                          % (tag, suite.tags[tag][0], suite.abbrev(tag)))
    for kind, name in sorted(suite.kinds.items()):
        label = "Kind: %s (%d)" % (name, kind)
        if not any(f.get("name") == "libnet_udp.kind" and f.get("showname", "").startswith(label)
                   for pkt in packets for f in pkt.iter("field")):
            errors.append("UDP kind %s (%d) never named" % (name, kind))
    for bit, name in sorted(suite.flags.items()):
        if "libnet_udp.flags." + name not in seen:
            errors.append("DATA flag %s (0x%02x) never shown" % (name, bit))
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("protocol_md")
    ap.add_argument("lua")
    ap.add_argument("--keep", help="leave the capture and tshark's output in this directory")
    for name in ("tshark", "text2pcap", "mergecap", "openssl"):
        ap.add_argument("--" + name, help="path of " + name)
    args = ap.parse_args()
    TOOLS.update({n: getattr(args, n) for n in ("tshark", "text2pcap", "mergecap", "openssl")})
    started = time.monotonic()
    with open(args.protocol_md, encoding="utf-8") as f:
        suite = Suite(f.read())
    work = args.keep or tempfile.mkdtemp(prefix="libnet-wireshark-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    try:
        suite.build(work)
        os.chmod(suite.keylog, 0o644)
        capture = write_capture(suite, work)
        os.chmod(capture, 0o644)
        # A home of its own: no personal plugins (another copy of the dissector) or preferences.
        env = dict(os.environ, HOME=work, XDG_CONFIG_HOME=os.path.join(work, "config"))
        prefix, prefs, _ = tshark_prefix(os.path.abspath(args.lua), env)
        errors = check_defaults(prefs)
        r = subprocess.run(prefix + ["-X", "lua_script:" + os.path.abspath(args.lua),
                                     "-o", "libnet.tcp_ports:%d,%d" % (TCP_PORT, PREF_PORT),
                                     "-o", "tls.keylog_file:" + suite.keylog,
                                     "-r", capture, "-T", "pdml"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        if args.keep:
            with open(os.path.join(work, "libnet.pdml"), "wb") as out:
                out.write(r.stdout)
        stderr = r.stderr.decode(errors="replace")
        try:
            pdml = r.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            pdml = None
            errors.append("tshark's PDML is not UTF-8 (text a field shows?): %s, near %r"
                          % (e, r.stdout[max(0, e.start - 80):e.end + 20]))
        if r.returncode != 0:
            errors.append("tshark exited %d: %s" % (r.returncode, stderr))
        elif pdml is not None:
            errors += check(suite, pdml, stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    n = sum(len(ps) for _, _, _, ps in suite.streams)
    for e in errors:
        print("FAIL " + e)
    print("%d packets (%d frame examples and %d datagrams of protocol.md, %d frame types, "
          "%d tags, %d UDP kinds), %d errors, %.1f s"
          % (n, suite.doc_frames, suite.doc_datagrams, len(suite.types), len(suite.tags),
             len(suite.kinds), len(errors), time.monotonic() - started))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
