# SPDX-License-Identifier: BSL-1.0
"""What docs/protocol.md says, read as data: its tables of frame types, tags, UDP kinds and
DATA flags, and its hex examples with the field-by-field breakdowns that follow them."""

import re

HEX_PAIR = re.compile(r"[0-9a-f]{2}$")
HEADING = re.compile(r"^#{2,4}\s+(?:(\d+(?:\.\d+)?)\.?\s|Appendix\s+([A-Z])\.|([A-Z]\.\d+)\s)")


def split_line(line):
    """Leading hex pairs of a line, as bytes, and the annotation after them."""
    tokens = line.split()
    n = 0
    while n < len(tokens) and HEX_PAIR.match(tokens[n]):
        n += 1
    rest = line.strip()
    for _ in range(n):
        rest = rest[2:].lstrip()
    return bytes.fromhex("".join(tokens[:n])), rest


def blocks(md):
    """(section, paragraph before, lines) for every fenced block, section as "5.1" or "A.5"."""
    section, para, last, inside, lines = "", [], [], False, []
    for line in md.splitlines():
        if line.startswith("```"):
            if inside:
                yield section, " ".join(para or last), lines
                para, last = [], []
            inside, lines = not inside, []
            continue
        if inside:
            lines.append(line)
            continue
        m = HEADING.match(line)
        if m:
            section, para, last = m.group(1) or m.group(2) or m.group(3), [], []
        elif line.strip():
            para.append(line.strip())
        elif para:
            para, last = [], para


def is_compact(lines):
    body = [l for l in lines if l.strip()]
    return bool(body) and all(split_line(l)[1] == "" for l in body)


def compact_bytes(lines):
    return b"".join(split_line(l)[0] for l in lines)


def parse_breakdown(lines):
    """A §5-style breakdown ("frame type = ...", "tag = N (name)", "length = L", "value = V")
    or a §13-style one ("HELLO, length 19", "name = V"): (bytes, type annotation, fields),
    fields as dicts of tag, name, value (bytes) and literal (the text after '='), or None."""
    data, fields, type_note, cur = bytearray(), [], None, None
    style = None
    for line in lines:
        raw, note = split_line(line)
        if "..." in line:
            return None
        data += raw
        if style is None:
            if note.startswith("frame type"):
                style = "5"
            elif re.match(r"^[A-Z_]+, length \d+$", note):
                style, type_note = "13", note.split(",")[0]
                continue
            else:
                return None
        if style == "5":
            m = re.match(r"tag\s*=\s*(\d+) \((\w+)\)", note)
            if note.startswith("frame type"):
                type_note = note.split("=", 1)[1].strip()
            elif note.startswith("frame length"):
                pass
            elif m:
                cur = {"tag": int(m.group(1)), "name": m.group(2), "value": b"", "literal": None}
                fields.append(cur)
            elif note.startswith("length") and cur is not None:
                cur["length"] = int(re.match(r"length\s*=\s*(\d+)", note).group(1))
            elif note.startswith("value") and cur is not None:
                cur["value"], cur["literal"] = raw, note.split("=", 1)[1].strip()
            elif note == "" and cur is not None and cur["literal"] is not None:
                cur["value"] += raw
            else:
                return None
        else:
            m = re.match(r"^(\w+)(?: = (.*)|, length \d+)$", note)
            if not m or len(raw) < 6:
                return None
            tag = int.from_bytes(raw[:2], "big")
            literal = m.group(2)
            fields.append({"tag": tag, "name": m.group(1),
                           "value": raw[6:] if literal is not None else b"", "literal": literal})
    if style is None:
        return None
    return bytes(data), type_note, fields


def table_rows(md, header_start):
    """The rows (lists of cells) of the first table whose header row starts with header_start."""
    rows, inside = [], False
    for line in md.splitlines():
        if not inside and line.startswith(header_start):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
    return rows


def frame_types(md):
    """{type: name} from §3's table."""
    return {int(r[0].strip("`"), 16): r[1] for r in table_rows(md, "| Type     | Name")}


def frame_directions(md):
    """{name: direction} from §3's table, such as "C→S" or "S→C, client→client"."""
    return {r[1]: r[2] for r in table_rows(md, "| Type     | Name")}


def tag_table(md, types):
    """{tag: (name, encoding, [users])} from §4.2; users are type names, 'entry' or
    'application'."""
    names = set(types.values())
    tags = {}
    for r in table_rows(md, "| Tag | Hex"):
        users = []
        for u in r[4].split(","):
            u = re.sub(r"\(.*?\)", "", u).strip().strip("`")
            if u in names or u in ("entry", "application"):
                users.append(u)
        tags[int(r[0])] = (r[2].strip("`"), r[3], users)
    return tags


def udp_kinds(md):
    """{kind: name} from §17.2's table."""
    return {int(r[0]): r[1] for r in table_rows(md, "| Kind | Name")}


def data_flags(md):
    """{bit: name} from §17.5's table."""
    return {int(r[0].strip("`"), 16): r[1].strip("`") for r in table_rows(md, "| Bit    | Name")}


def frame_examples(md):
    """Every frame example of §2-§16: (section, bytes, breakdown or None). A compact hex block
    is paired with the breakdown that holds the same bytes; §13's blocks are breakdowns alone."""
    found, pending = [], []
    for section, para, lines in blocks(md):
        top = section.split(".")[0]
        if not top.isdigit() or not 2 <= int(top) <= 16 or section == "15.2":
            continue
        if is_compact(lines):
            pending.append((section, compact_bytes(lines)))
            continue
        parsed = parse_breakdown(lines)
        if parsed is None:
            continue
        data = parsed[0]
        match = [p for p in pending if p[1] == data]
        if match:
            pending.remove(match[0])
        found.append((section, data, parsed))
    found.extend((s, data, None) for s, data in pending)
    return found


def datagram_examples(md):
    """§17.8's datagrams: (letter, bytes), a block of several datagrams split by their sizes."""
    sizes = {2: 30, 3: 20, 5: 9, 6: 17, 7: 17}
    out = []
    for section, para, lines in blocks(md):
        if section != "17.8" or not is_compact(lines):
            continue
        letter = re.match(r"\((\w)\)", para).group(1) if re.match(r"\((\w)\)", para) else "?"
        data = compact_bytes(lines)
        while data:
            n = sizes.get(data[0], len(data))
            out.append((letter, data[:n]))
            data = data[n:]
    return out
