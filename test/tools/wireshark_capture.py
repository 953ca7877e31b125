# SPDX-License-Identifier: BSL-1.0
"""The capture wireshark_test.py dissects, and what the dissector must show in it: streams of
TCP segments and UDP datagrams (Packet), each with the libnet frames (Expect) it must hold,
written to a pcap file with text2pcap and mergecap."""

import os
import random
import shutil
import ssl
import struct
import subprocess

import protocol_doc

TCP_PORT, LINK_PORT, PREF_PORT, UDP_PORT, UDP_HEUR_PORT = 7000, 7001, 9000, 7000, 7100


def field(tag, value):
    return struct.pack(">HI", tag, len(value)) + value


def frame(ftype, value=b""):
    return struct.pack(">HI", ftype, len(value)) + value


class Expect:
    """A libnet frame the dissector must show: its type name (a substring of the type's
    display), its fields in order as (abbrev, raw value or None, literal or None) and the
    libnet.expert.* names it must carry (exactly)."""

    def __init__(self, type_text, fields=(), experts=(), names=()):
        self.type_text, self.fields, self.experts = type_text, list(fields), sorted(experts)
        self.names = set(names)  # abbrevs that must appear somewhere in the frame


class Packet:
    def __init__(self, direction, data, frames=(), udp=None, experts=(), protocols=(),
                 anything=False):
        self.direction, self.data = direction, data
        self.anything = anything  # mutated input: any dissection but a Lua error will do
        self.frames = list(frames)
        self.udp = udp  # (kind name, {abbrev: show}) for a libnet_udp datagram
        self.experts = sorted(experts)  # libnet_udp.expert.* names of the datagram
        self.protocols = protocols


class Suite:
    def __init__(self, md):
        self.md = md
        self.types = protocol_doc.frame_types(md)
        self.tags = protocol_doc.tag_table(md, self.types)
        self.kinds = protocol_doc.udp_kinds(md)
        self.flags = protocol_doc.data_flags(md)
        self.streams = []  # (transport, client port, server port, [Packet])

    def abbrev(self, tag):
        name = self.tags[tag][0]
        return "libnet.type_tag" if name == "type" else "libnet." + name

    def stream(self, transport, cport, sport):
        packets = []
        self.streams.append((transport, cport, sport, packets))
        return packets

    # -- Expectations from protocol.md's breakdowns ------------------------------------------

    def expect_from_doc(self, data, parsed):
        type_note = parsed[1]
        text = type_note.split("(")[1].rstrip(")") if "(" in type_note else type_note
        fields = []
        for fld in parsed[2]:
            if fld["name"] == "entry":
                continue
            fields.append((self.abbrev(fld["tag"]), fld["value"], fld["literal"]))
        return Expect(text, fields)

    # -- Frames made here from §3 and §4.2 ---------------------------------------------------

    def sample(self, tag, ftype):
        name, enc, _ = self.tags[tag]
        if enc == "u16":
            v = 1 if name == "version" else tag * 7
            return struct.pack(">H", v), str(v)
        if enc == "u32":
            return struct.pack(">I", 100000 + tag), str(100000 + tag)
        if enc == "u64":
            v = 0x0102030405060700 + tag
            return struct.pack(">Q", v), str(v)
        if enc == "string":
            s = "%s-%04x" % (name, ftype)
            return s.encode(), '"%s"' % s
        size = {"peer_key": 32, "proof": 32, "link_key": 32, "token": 56}.get(name)
        raw = bytes(range(size)) if size else (name + "\xff").encode("latin-1")
        return raw, None

    def made_frame(self, ftype, users_name):
        value, fields = b"", []
        for tag, (name, enc, users) in sorted(self.tags.items()):
            if users_name not in users:
                continue
            if enc == "nested":
                for i in range(2):
                    inner = b""
                    for itag, (iname, ienc, iusers) in sorted(self.tags.items()):
                        if "entry" in iusers:
                            raw, lit = self.sample(itag, ftype + i)
                            inner += field(itag, raw)
                            fields.append((self.abbrev(itag), raw, lit))
                    value += field(tag, inner)
                continue
            raw, lit = self.sample(tag, ftype)
            value += field(tag, raw)
            fields.append((self.abbrev(tag), raw, lit))
        names = {self.abbrev(t) for t, v in self.tags.items() if users_name in v[2]}
        return frame(ftype, value), fields, names

    def build(self, work):
        self.build_doc_streams()
        self.build_made_streams()
        self.build_malformed_stream()
        self.build_tls_stream(work)
        self.build_udp()
        self.build_mutations()

    def build_doc_streams(self):
        c2s = {name for name, direction in protocol_doc.frame_directions(self.md).items()
               if "C→S" in direction}
        link = {"PEER_HELLO", "PEER_WELCOME"}
        server = self.stream("tcp", 50001, TCP_PORT)
        linked = self.stream("tcp", 40001, LINK_PORT)
        self.doc_frames = 0
        for section, data, parsed in protocol_doc.frame_examples(self.md):
            if parsed is None:
                raise SystemExit("protocol.md §%s: a hex example without a breakdown: %s"
                                 % (section, data.hex(" ")))
            if 6 + int.from_bytes(data[2:6], "big") != len(data):
                raise SystemExit("protocol.md §%s: the frame length disagrees with the example's "
                                 "%d bytes: %s" % (section, len(data), data.hex(" ")))
            exp = self.expect_from_doc(data, parsed)
            name = self.types.get(int.from_bytes(data[:2], "big"), "")
            to_server = exp.fields and exp.fields[0][0] == "libnet.to"
            if int.from_bytes(data[:2], "big") >= 0x8000 and to_server:
                name = "SEND"  # an application frame on its way to the server
            self.doc_frames += 1
            if name in link:
                linked.append(Packet("I" if name == "PEER_HELLO" else "O", data, [exp]))
            else:
                server.append(Packet("I" if name in c2s else "O", data, [exp]))
        # On the link, after the handshake: traffic the heuristic's conversation carries.
        for direction, raw, text in (("I", frame(0x0007, field(13, b"alice") + field(14, b"hi")
                                                 + field(15, struct.pack(">Q", 1))), "DELIVER"),
                                     ("O", frame(0x0010, field(15, struct.pack(">Q", 1))), "ACK"),
                                     ("I", frame(0x000b), "BYE")):
            linked.append(Packet(direction, raw, [Expect(text)]))

    def build_made_streams(self):
        s = self.stream("tcp", 50002, TCP_PORT)
        made = {}
        for ftype, name in sorted(self.types.items()):
            raw, fields, names = self.made_frame(ftype, name)
            made[name] = raw
            s.append(Packet("I", raw, [Expect(name, fields, names=names)]))
        raw, fields, names = self.made_frame(0x8001, "application")
        made["application"] = raw
        s.append(Packet("I", raw, [Expect("application-defined", fields, names=names)]))
        # Types the protocol does not define, and a tag it reserves.
        unknown = ["unknown_type"]
        s.append(Packet("I", frame(0x0000, field(12, b"x")), [Expect("invalid", experts=unknown)]))
        s.append(Packet("I", frame(0x0030, b"\x01\x02\x03"),
                        [Expect("unassigned core type", experts=unknown)]))
        s.append(Packet("I", frame(0x0100), [Expect("reserved core type", experts=unknown)]))
        s.append(Packet("I", frame(0xfffe, field(14, b"")), [Expect("application-defined")]))
        send = frame(0x0006, field(12, b"bob") + field(14, b"hi") + field(28, b"\x00\x06")
                     + field(99, b"??") + field(15, struct.pack(">Q", 5)) + field(12, b"carol"))
        fields = [("libnet.to", b"bob", '"bob"'), ("libnet.body", b"hi", '"hi"'),
                  ("libnet.type_tag", b"\x00\x06", None),
                  ("libnet.seq", struct.pack(">Q", 5), "5"), ("libnet.to", b"carol", '"carol"')]
        experts = ["skipped", "unknown_tag", "skipped", "duplicate"]
        s.append(Packet("I", send, [Expect("SEND", fields, experts, names=["libnet.unknown"])]))
        # One frame across two segments; two frames in one; a header across two.
        intro = made["INTRODUCTION"]
        s.append(Packet("O", intro[:50]))
        s.append(Packet("O", intro[50:], [Expect("INTRODUCTION")]))
        s.append(Packet("O", made["WELCOME"] + made["DIRECTORY"],
                        [Expect("WELCOME"), Expect("DIRECTORY")]))
        ping, pong, send = made["PING"], made["PONG"], made["SEND"]
        s.append(Packet("I", ping[:3]))
        s.append(Packet("I", ping[3:] + pong + send[:10], [Expect("PING"), Expect("PONG")]))
        s.append(Packet("I", send[10:], [Expect("SEND")]))
        # A port given by preference, mid-session (no HELLO for the heuristic to see).
        p = self.stream("tcp", 50003, PREF_PORT)
        p.append(Packet("O", made["JOINED"], [Expect("JOINED")]))
        self.made = made

    def build_malformed_stream(self):
        s = self.stream("tcp", 50005, TCP_PORT)
        cases = [
            (frame(0x0006, field(12, b"bob") + struct.pack(">HI", 14, 100) + b"hi"), "SEND",
             ["malformed_field"]),
            (frame(0x000c, field(19, b"\x00\x00\x00\x2a")), "PING", ["malformed_message"]),
            (frame(0x0006, field(12, b"bob")), "SEND", ["missing_field"]),
            (frame(0x0001, field(1, b"\x00\x01") + field(3, b"h:1") + field(32, bytes(31))),
             "HELLO", ["malformed_message"]),
            (frame(0x0006, field(12, b"bob") + field(14, b"") + b"\x00\x0e\x00"), "SEND",
             ["malformed_field"]),
            (frame(0x0003, field(8, field(2, b"a") + struct.pack(">HI", 9, 8) + b"\x00")),
             "DIRECTORY", ["malformed_field"]),
            (frame(0x0002, field(1, b"\x00\x02") + field(2, b"a") + field(5, b"\x00\x10\x00\x00")),
             "WELCOME", ["version"]),
        ]
        for raw, name, experts in cases:
            s.append(Packet("I", raw, [Expect(name, experts=experts)]))
        s.append(Packet("I", b"\x00\x06\xff\xff\xff\xff" + b"junk",
                        [Expect("SEND", experts=["frame_too_large"])]))

    def build_tls_stream(self, work):
        """A session over TLS (§2.1), made here with Python's ssl on memory buffers, its keys
        in a key log for tshark's tls.keylog_file."""
        key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
        r = run([tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                 "-subj", "/CN=libnet", "-days", "1"])
        if r.returncode != 0:
            raise SystemExit("openssl req failed: " + r.stderr)
        self.keylog = os.path.join(work, "tls-keys.log")
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert, key)
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
        client_ctx.keylog_filename = self.keylog
        bios = [ssl.MemoryBIO() for _ in range(4)]
        client = client_ctx.wrap_bio(bios[0], bios[1], server_hostname="libnet")
        server = server_ctx.wrap_bio(bios[2], bios[3], server_side=True)
        s = self.stream("tcp", 50006, TCP_PORT)

        def pump(direction=None, frames=()):
            for d, src, dst in (("I", bios[1], bios[2]), ("O", bios[3], bios[0])):
                data = src.read()
                if data:
                    dst.write(data)
                    s.append(Packet(d, data, frames if d == direction else [], protocols=("tls",)))

        def attempt(action):
            try:
                action()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass

        for _ in range(4):
            attempt(client.do_handshake)
            pump()
            attempt(server.do_handshake)
            pump()
        for direction, side, other, name in (("I", client, server, "HELLO"),
                                             ("O", server, client, "WELCOME"),
                                             ("I", client, server, "SEND")):
            side.write(self.made[name])
            pump(direction, [Expect(name)])
            attempt(lambda: other.read(65536))
            pump()

    # -- UDP ----------------------------------------------------------------------------------

    def data(self, cid, flags, ack=None, number=None, payload=b""):
        out = b"\x04" + struct.pack(">QB", cid, flags)
        if ack is not None:
            nxt, window, delay, ranges = ack
            out += struct.pack(">IHHB", nxt, window, delay, len(ranges))
            out += b"".join(struct.pack(">HH", g, n) for g, n in ranges)
        if number is not None:
            out += struct.pack(">I", number) + payload
        return out

    def build_udp(self):
        u = self.stream("udp", 50010, UDP_PORT)
        hello = [Expect("HELLO", [("libnet.version", b"\x00\x01", "1"),
                                  ("libnet.client_id", b"alice", '"alice"')])]
        doc = {
            "a": ("I", "INIT", {"libnet_udp.nonce": "0x0102030405060708",
                                "libnet_udp.cookie_length": "0", "libnet_udp.version": "1"}, []),
            "b": ("O", "COOKIE", {"libnet_udp.cookie.time": "42"}, []),
            "c": ("I", "INIT", {"libnet_udp.cookie_length": "20",
                                "libnet_udp.cookie.time": "42"}, []),
            "d": ("O", "ACCEPT", {"libnet_udp.cid": "0xfeedface00000001",
                                  "libnet_udp.max_datagram": "1200"}, []),
            "e": ("I", "DATA", {"libnet_udp.ack.next": "0", "libnet_udp.ack.window": "256",
                                "libnet_udp.ack.delay": "65535", "libnet_udp.number": "0",
                                "libnet_udp.flags.packet": "1"}, hello),
            "f": ("O", "DATA", {"libnet_udp.ack.next": "10", "libnet_udp.ack.count": "2",
                                "libnet_udp.ack.gap": "1", "libnet_udp.ack.length": "3",
                                "libnet_udp.ack.range": "Range: packets 11-13 (1 missing before)"},
                  []),
            "h": ("O", "RESET", {"libnet_udp.cid": "0xfeedface00000001"}, []),
        }
        self.doc_datagrams = 0
        for letter, dg in protocol_doc.datagram_examples(self.md):
            self.doc_datagrams += 1
            if letter == "g":
                kind = "CHALLENGE" if dg[0] == 6 else "RESPONSE"
                u.append(Packet("O" if dg[0] == 6 else "I", dg,
                                udp=(kind, {"libnet_udp.token": "0x1122334455667788"})))
                continue
            if letter not in doc:
                raise SystemExit("protocol.md §17.8: an example (%s) this test does not know"
                                 % letter)
            direction, kind, values, frames = doc[letter]
            u.append(Packet(direction, dg, frames, udp=(kind, values)))
        cid = 0xfeedface00000001
        made = self.made
        # Packets of whole frames, fragments of one frame, the end of a stream, a probe.
        two = made["WELCOME"] + made["DIRECTORY"]
        u.append(Packet("O", self.data(cid, 0x03, (1, 256, 125, []), 0, two),
                        [Expect("WELCOME"), Expect("DIRECTORY")],
                        udp=("DATA", {"libnet_udp.flags.ack": "1"})))
        big = frame(0x0008, field(14, bytes(range(256)) * 2) + field(17, struct.pack(">Q", 77)))
        parts = [big[:200], big[200:400], big[400:]]
        whole = Expect("BROADCAST", [("libnet.body", bytes(range(256)) * 2, None),
                                     ("libnet.ref", struct.pack(">Q", 77), "77")])
        for i, (flags, part) in enumerate(zip((0x13, 0x1b, 0x0b), parts)):
            u.append(Packet("I", self.data(cid, flags, (1, 256, 0, []), 1 + i, part),
                            [whole] if i == 2 else [],
                            udp=("DATA", {"libnet_udp.number": str(1 + i)}),
                            experts=["fragment"]))
        u.append(Packet("I", self.data(cid, 0x06, None, 4),
                        udp=("DATA", {"libnet_udp.flags.fin": "1"})))
        u.append(Packet("O", self.data(cid, 0x20),
                        udp=("DATA", {"libnet_udp.flags.ack_request": "1"})))
        bad = [
            (b"\x00\x01\x02", "unknown kind"),
            (b"\x08" + bytes(16), "unknown kind"),
            (bytes.fromhex("0202") + bytes(28), "COOKIE"),
            (bytes.fromhex("05") + bytes(8) + b"\x00", "RESET"),
            (bytes.fromhex("0101") + bytes(18), "INIT"),
            (bytes.fromhex("0101") + bytes(8) + b"\x05" + bytes(53), "INIT"),
            (self.data(cid, 0xc1, (0, 1, 0, [])), "DATA"),
            (self.data(cid, 0x01, (0, 1, 0, [(1, 1)] * 9)), "DATA"),
            (self.data(cid, 0x01, (0, 1, 0, [(0, 1)])), "DATA"),
            (self.data(cid, 0x06, None, 5, b"x"), "DATA"),
            (self.data(cid, 0x01, (0, 1, 0, [])) + b"x", "DATA"),
            (self.data(cid, 0x00), "DATA"),
            (self.data(cid, 0x09, (0, 1, 0, [])), "DATA"),
        ]
        for raw, kind in bad:
            u.append(Packet("I", raw, udp=(kind, {}), experts=["malformed"]))
        h = self.stream("udp", 50011, UDP_HEUR_PORT)
        for letter, dg in protocol_doc.datagram_examples(self.md):
            if letter in "abcde":
                direction, kind, _, frames = doc[letter]
                h.append(Packet(direction, dg, frames, udp=(kind, {})))


# -- Running the tools --------------------------------------------------------------------------


    def build_mutations(self):
        """protocol.md's frames and datagrams with bytes changed, cut and added (a fixed seed),
        the frames as the payloads of DATA packets, where each is dissected alone."""
        rnd = random.Random(20261203)
        frames = [data for _, data, _ in protocol_doc.frame_examples(self.md)]
        datagrams = [data for _, data in protocol_doc.datagram_examples(self.md)]

        def mutate(data):
            data = bytearray(data)
            for _ in range(rnd.randint(1, 4)):
                at = rnd.randrange(len(data) + 1)
                op = rnd.random()
                if op < 0.5 and at < len(data):
                    data[at] = rnd.randrange(256)
                elif op < 0.7:
                    del data[at:at + rnd.randint(1, 6)]
                elif op < 0.9:
                    data[at:at] = bytes([rnd.randrange(256)])
                else:
                    del data[at:]
            return bytes(data)

        u = self.stream("udp", 50012, UDP_PORT)
        for number in range(200):
            payload = mutate(rnd.choice(frames)) or b"\x00"
            u.append(Packet("I", self.data(0xfeedface00000002, 0x02, None, number, payload),
                            anything=True))
            u.append(Packet("O", mutate(rnd.choice(datagrams)) or b"\x04", anything=True))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


TOOLS = {}


def tool(name):
    path = TOOLS.get(name) or shutil.which(name)
    if not path:
        raise SystemExit("%s not found (Debian: tshark, wireshark-common)" % name)
    return path


def write_capture(suite, work):
    text2pcap, mergecap = tool("text2pcap"), tool("mergecap")
    parts = []
    for i, (transport, cport, sport, packets) in enumerate(suite.streams):
        txt = os.path.join(work, "s%d.txt" % i)
        with open(txt, "w") as out:
            for p in packets:
                out.write("%s 0000 %s\n" % (p.direction, p.data.hex(" ")))
        pcap = os.path.join(work, "s%d.pcap" % i)
        opt = "-T" if transport == "tcp" else "-u"
        r = run([text2pcap, "-q", "-D", "-F", "pcap", opt, "%d,%d" % (cport, sport), txt, pcap])
        if r.returncode != 0:
            raise SystemExit("text2pcap failed: " + r.stderr)
        parts.append(pcap)
    capture = os.path.join(work, "libnet.pcap")
    r = run([mergecap, "-F", "pcap", "-a", "-w", capture] + parts)
    if r.returncode != 0:
        raise SystemExit("mergecap failed: " + r.stderr)
    return capture
