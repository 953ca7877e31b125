-- SPDX-License-Identifier: BSL-1.0
-- Wireshark dissector for libnet's wire protocol (docs/protocol.md): the frames and fields of
-- §2-§16 over TCP (server connections and direct links), and the UDP transport's datagrams of
-- §17 with the frames they carry.
--
--   wireshark -X lua_script:tools/wireshark/libnet.lua capture.pcap
--   tshark -X lua_script:tools/wireshark/libnet.lua -r capture.pcap -V
--
-- or copy this file into the personal Lua plugins folder (Help > About Wireshark > Folders).
-- Preferences (Edit > Preferences > Protocols, or tshark -o NAME:VALUE):
--   libnet.tcp_ports      TCP ports of libnet servers (7000; a range such as 7000,7100-7199)
--   libnet.max_frame      largest frame value accepted before a stream is taken as broken (1 MiB)
--   libnet_udp.udp_ports  UDP ports of libnet servers (default 7000)
-- Connections on other ports are found by heuristics: a TCP stream that starts with HELLO,
-- WELCOME, PEER_HELLO or PEER_WELCOME (version 1), a UDP flow that starts with INIT, COOKIE
-- or ACCEPT. Direct links (§15) listen on ports of their own and are found that way.
-- A TLS connection (§2.1) is handed to Wireshark's TLS dissector; with its keys
-- (tls.keylog_file) the frames inside are dissected too.

local libnet = Proto("libnet", "libnet wire protocol")
local band = (bit and bit.band) or (bit32 and bit32.band)
    or load("return function(a, b) return a & b end")()
local udp_proto = Proto("libnet_udp", "libnet UDP transport")

------------------------------------------------------------------------------------------
-- Names (protocol.md §3, §4.2, §5.5, §5.10, §11)

local frame_types = {
    [0x0001] = "HELLO", [0x0002] = "WELCOME", [0x0003] = "DIRECTORY", [0x0004] = "JOINED",
    [0x0005] = "LEFT", [0x0006] = "SEND", [0x0007] = "DELIVER", [0x0008] = "BROADCAST",
    [0x0009] = "ERROR", [0x000a] = "TERM", [0x000b] = "BYE", [0x000c] = "PING",
    [0x000d] = "PONG", [0x0010] = "ACK", [0x0011] = "GET", [0x0012] = "STORED",
    [0x0013] = "FETCHED", [0x0014] = "LOOKUP", [0x0015] = "PRESENCE",
    [0x0020] = "INTRO_REQUEST", [0x0021] = "INTRODUCTION", [0x0022] = "PEER_HELLO",
    [0x0023] = "PEER_WELCOME",
}

local function type_name(t)
    if frame_types[t] then return frame_types[t] end
    if t == 0 then return "invalid type 0x0000" end
    if t >= 0x8000 then return string.format("application type 0x%04x", t) end
    if t <= 0x00ff then return string.format("unassigned core type 0x%04x", t) end
    return string.format("reserved core type 0x%04x", t)
end

-- Exact names first: a range string takes the first entry that matches.
local type_ranges = {}
for t = 1, 0x23 do
    if frame_types[t] then type_ranges[#type_ranges + 1] = { t, t, frame_types[t] } end
end
for _, r in ipairs({ { 0x0000, 0x0000, "invalid" }, { 0x0001, 0x00ff, "unassigned core type" },
                     { 0x0100, 0x7fff, "reserved core type" },
                     { 0x8000, 0xffff, "application-defined" } }) do
    type_ranges[#type_ranges + 1] = r
end

local U16, U32, U64, STR, BYTES, NESTED, RESERVED = 2, 4, 8, "string", "bytes", "nested", "-"

local tags = {
    [1] = { "version", U16 }, [2] = { "client_id", STR }, [3] = { "endpoint", STR },
    [4] = { "credentials", BYTES }, [5] = { "max_frame", U32 }, [6] = { "heartbeat_ms", U32 },
    [7] = { "heartbeat_misses", U32 }, [8] = { "entry", NESTED }, [9] = { "join_seq", U64 },
    [10] = { "reason", U16 }, [11] = { "text", STR }, [12] = { "to", STR },
    [13] = { "from", STR }, [14] = { "body", BYTES }, [15] = { "seq", U64 },
    [16] = { "code", U16 }, [17] = { "ref", U64 }, [18] = { "ref_type", U16 },
    [19] = { "nonce", U64 }, [20] = { "by", STR }, [21] = { "flags", U16 },
    [22] = { "token", BYTES }, [23] = { "proof", BYTES }, [24] = { "expires", U64 },
    [25] = { "link", U64 }, [26] = { "link_seq", U64 }, [27] = { "peer_key", BYTES },
    [28] = { "type", RESERVED }, [29] = { "count", U32 }, [30] = { "pending", U32 },
    [31] = { "ttl_ms", U32 }, [32] = { "link_key", BYTES },
}

local error_codes = {
    [1] = "frame_too_large", [2] = "malformed_field", [3] = "malformed_message",
    [4] = "missing_field", [5] = "unsupported_version", [6] = "invalid_client_id",
    [7] = "unknown_type", [8] = "frame_timeout", [9] = "malformed_datagram",
    [32] = "hello_timeout", [33] = "hello_expected", [34] = "already_registered",
    [35] = "id_taken", [36] = "server_full", [37] = "not_allowed", [38] = "auth_failed",
    [39] = "cluster_unavailable", [40] = "rate_limited", [41] = "tls_required",
    [64] = "no_such_client", [65] = "slow_consumer", [66] = "queue_full",
    [67] = "not_permitted", [68] = "unexpected_frame", [69] = "no_peer_link",
    [70] = "store_failed", [71] = "not_ready", [96] = "heartbeat_timeout",
    [97] = "terminated", [98] = "connection_closed", [99] = "not_connected",
    [100] = "shutting_down", [101] = "hook_failed", [102] = "unreachable",
    [103] = "session_reset",
}
local leave_reasons = { "bye", "lost", "closed", "slow_consumer", "protocol_error", "terminated" }
local term_reasons = { "requested", "shutdown", "teardown", "idle", "disconnect", "expected" }

-- Per message: its fields in encoding order (tag, presence) and its flags bits.
local R, A, O = "required", "always", "optional"
local app_fields = { { 12, O }, { 13, O }, { 14, A }, { 17, O }, { 15, O }, { 25, O }, { 26, O },
                     { 21, O }, { 31, O } }
local entry_fields = { { 2, R }, { 9, R }, { 3, O } }
local messages = {
    [0x0001] = { { 1, R }, { 2, O }, { 3, O }, { 4, O }, { 21, O }, { 15, O }, { 32, O } },
    [0x0002] = { { 1, R }, { 2, R }, { 5, R }, { 6, A }, { 7, A }, { 27, O }, { 21, O },
                 { 15, O }, { 30, O } },
    [0x0003] = { { 8, O } },
    [0x0004] = entry_fields,
    [0x0005] = { { 2, R }, { 9, A }, { 10, A } },
    [0x0006] = { { 12, R }, { 14, R }, { 17, O }, { 25, O }, { 26, O }, { 21, O }, { 31, O } },
    [0x0007] = { { 13, R }, { 14, R }, { 15, R }, { 21, O }, { 25, O }, { 26, O } },
    [0x0008] = { { 14, R }, { 17, O }, { 21, O }, { 31, O } },
    [0x0009] = { { 16, R }, { 11, O }, { 17, O }, { 18, O }, { 2, O } },
    [0x000a] = { { 10, R }, { 11, O }, { 20, O } },
    [0x000b] = {},
    [0x000c] = { { 19, A } },
    [0x000d] = { { 19, A } },
    [0x0010] = { { 15, A }, { 21, O } },
    [0x0011] = { { 29, R }, { 17, O } },
    [0x0012] = { { 17, O }, { 12, O }, { 29, A }, { 21, O } },
    [0x0013] = { { 29, A }, { 30, A }, { 17, O } },
    [0x0014] = { { 2, R }, { 17, O } },
    [0x0015] = { { 2, R }, { 9, A }, { 3, O }, { 17, O } },
    [0x0020] = { { 12, R }, { 17, O }, { 32, O } },
    [0x0021] = { { 2, R }, { 3, R }, { 22, R }, { 23, R }, { 24, R }, { 17, O }, { 32, O } },
    [0x0022] = { { 1, R }, { 2, R }, { 22, R }, { 25, R } },
    [0x0023] = { { 1, R }, { 2, R }, { 23, R } },
}

------------------------------------------------------------------------------------------
-- Fields

local f = {
    type = ProtoField.uint16("libnet.type", "Frame type", base.HEX + base.RANGE_STRING,
                             type_ranges),
    length = ProtoField.uint32("libnet.length", "Frame length", base.DEC),
    field = ProtoField.none("libnet.field", "Field"),
    tag = ProtoField.uint16("libnet.tag", "Tag", base.DEC),
    field_length = ProtoField.uint32("libnet.field_length", "Field length", base.DEC),
    unknown = ProtoField.bytes("libnet.unknown", "Value of an unknown tag"),
    bad_value = ProtoField.bytes("libnet.bad_value", "Value of the wrong size"),
    undecoded = ProtoField.bytes("libnet.undecoded", "Undecoded bytes"),
    token_expires = ProtoField.uint64("libnet.token.expires", "Token expires", base.DEC),
    token_nonce = ProtoField.bytes("libnet.token.nonce", "Token nonce"),
    token_mac = ProtoField.bytes("libnet.token.mac", "Token MAC"),
}
local tag_field = {}
for tag, t in pairs(tags) do
    local name, enc = t[1], t[2]
    local abbrev = "libnet." .. name
    local pf
    if name == "type" then
        pf = ProtoField.bytes("libnet.type_tag", "type (reserved tag 28)")
    elseif name == "code" then
        pf = ProtoField.uint16(abbrev, name, base.DEC, error_codes)
    elseif name == "ref_type" then
        pf = ProtoField.uint16(abbrev, name, base.HEX + base.RANGE_STRING, type_ranges)
    elseif name == "flags" then
        pf = ProtoField.uint16(abbrev, name, base.HEX)
    elseif name == "link" then
        pf = ProtoField.uint64(abbrev, name, base.HEX)
    elseif enc == U16 then pf = ProtoField.uint16(abbrev, name, base.DEC)
    elseif enc == U32 then pf = ProtoField.uint32(abbrev, name, base.DEC)
    elseif enc == U64 then pf = ProtoField.uint64(abbrev, name, base.DEC)
    elseif enc == STR then pf = ProtoField.string(abbrev, name)
    elseif enc == NESTED then pf = ProtoField.none(abbrev, name)
    else pf = ProtoField.bytes(abbrev, name) end
    tag_field[tag] = pf
    f["tag_" .. tag] = pf
end

-- Flags bits per message (§5.1, §5.2, §5.6, §5.7, §5.8, §5.14, §16.6, §3.2).
local function flag(name, label, mask)
    return { ProtoField.bool("libnet.flags." .. name, label, 16, nil, mask), label, mask }
end
local fl = {
    pull = flag("pull", "pull", 0x0001),
    no_directory = flag("no_directory", "no_directory", 0x0002),
    has_mailbox = flag("mailbox", "mailbox", 0x0001),
    durable = flag("durable", "durable", 0x0002),
    barrier = flag("barrier", "barrier", 0x0004),
    broadcast = flag("broadcast", "broadcast", 0x0001),
    link_sync = flag("link_sync", "link sync", 0x0002),
    confirm = flag("confirm", "confirm", 0x0004),
    mailbox = flag("mailbox", "mailbox", 0x0008),
    committed = flag("durable", "durable", 0x0001),
}
for k, v in pairs(fl) do f["flag_" .. k] = v[1] end
local flag_sets = {
    [0x0001] = { fl.pull, fl.no_directory },
    [0x0002] = { fl.has_mailbox, fl.durable, fl.barrier },
    [0x0006] = { fl.link_sync, fl.confirm },
    [0x0007] = { fl.broadcast, fl.link_sync, fl.mailbox },
    [0x0008] = { fl.confirm },
    [0x0010] = { fl.link_sync },
    [0x0012] = { fl.committed },
    app = { fl.confirm, fl.mailbox },
}

local fields_list = {}
for _, pf in pairs(f) do fields_list[#fields_list + 1] = pf end
libnet.fields = fields_list

local function expert_info(name, text, group, severity)
    return ProtoExpert.new("libnet.expert." .. name, text, group, severity)
end
local ex = {
    frame_too_large = expert_info("frame_too_large", "Frame longer than max_frame",
                                  expert.group.MALFORMED, expert.severity.ERROR),
    incomplete = expert_info("incomplete", "Frame incomplete", expert.group.MALFORMED,
                             expert.severity.WARN),
    malformed_field = expert_info("malformed_field", "malformed_field",
                                  expert.group.MALFORMED, expert.severity.ERROR),
    malformed_message = expert_info("malformed_message", "malformed_message",
                                    expert.group.MALFORMED, expert.severity.ERROR),
    missing_field = expert_info("missing_field", "missing_field", expert.group.PROTOCOL,
                                expert.severity.ERROR),
    unknown_type = expert_info("unknown_type", "Frame type not defined by the protocol",
                               expert.group.UNDECODED, expert.severity.NOTE),
    unknown_tag = expert_info("unknown_tag", "Tag not defined by the protocol",
                              expert.group.UNDECODED, expert.severity.NOTE),
    skipped = expert_info("skipped", "Tag not used by this message; receivers skip it",
                          expert.group.PROTOCOL, expert.severity.NOTE),
    duplicate = expert_info("duplicate", "Field repeated; the last one counts",
                            expert.group.PROTOCOL, expert.severity.NOTE),
    bad_size = expert_info("bad_size", "Value of an unexpected size", expert.group.PROTOCOL,
                           expert.severity.WARN),
    version = expert_info("version", "Protocol version other than 1", expert.group.PROTOCOL,
                          expert.severity.WARN),
    not_boundary = expert_info("not_boundary", "Packet does not end at a frame boundary",
                               expert.group.PROTOCOL, expert.severity.WARN),
}
local experts = {}
for _, e in pairs(ex) do experts[#experts + 1] = e end
libnet.experts = experts

libnet.prefs.tcp_ports = Pref.range("TCP ports", "7000",
    "TCP ports of libnet servers; other connections are found by heuristics", 65535)
libnet.prefs.max_frame = Pref.uint("Maximum frame length", 1048576,
    "A frame header announcing a longer value breaks the stream (frame_too_large)")

------------------------------------------------------------------------------------------
-- Values shown in summaries such as HELLO(version=1, client_id="alice")

-- The length of the UTF-8 sequence at i of s, or nil when it is not valid UTF-8.
local function utf8_length(s, i)
    local c = s:byte(i)
    local len, lo, hi = nil, 0x80, 0xbf
    if c < 0x80 then return 1 end
    if c >= 0xc2 and c <= 0xdf then len = 2 end
    if c >= 0xe0 and c <= 0xef then len = 3 end
    if c >= 0xf0 and c <= 0xf4 then len = 4 end
    if c == 0xe0 then lo = 0xa0 elseif c == 0xed then hi = 0x9f end
    if c == 0xf0 then lo = 0x90 elseif c == 0xf4 then hi = 0x8f end
    if not len or i + len - 1 > #s then return nil end
    for k = i + 1, i + len - 1 do
        local b = s:byte(k)
        if b < lo or b > hi then return nil end
        lo, hi = 0x80, 0xbf
    end
    return len
end

-- s in double quotes, at most 40 characters of it, with control characters, quotes and
-- bytes that are not UTF-8 written as \xHH.
local function quoted(s)
    local out, i = {}, 1
    while i <= #s and #out < 40 do
        local len = utf8_length(s, i)
        local c = s:byte(i)
        if len == 1 and (c < 0x20 or c == 0x7f or c == 0x22 or c == 0x5c) or not len then
            out[#out + 1] = string.format("\\x%02x", c)
            len = 1
        else
            out[#out + 1] = s:sub(i, i + len - 1)
        end
        i = i + len
    end
    return '"' .. table.concat(out) .. (i <= #s and '..."' or '"')
end

local function printable(s)
    return #s <= 40 and not s:find("[^\32-\126]")
end

local function reason_name(ftype, v)
    local names = (ftype == 0x000a) and term_reasons or leave_reasons
    return names[v]
end

local function flag_names(ftype, v)
    local set = flag_sets[ftype] or (ftype >= 0x8000 and flag_sets.app) or {}
    local names = {}
    for _, b in ipairs(set) do
        if band(v, b[3]) ~= 0 then names[#names + 1] = b[2] end
    end
    return names
end

------------------------------------------------------------------------------------------
-- Fields (§4): tag u16 · length u32 · value

-- True when [off, stop) is an exact sequence of fields (rule 1 of §4.3), nested ones included.
local function fields_frame(tvb, off, stop, depth)
    while off < stop do
        if stop - off < 6 then return false end
        local tag, len = tvb(off, 2):uint(), tvb(off + 2, 4):uint()
        if len > stop - off - 6 then return false end
        if tag == 8 and depth < 2 and not fields_frame(tvb, off + 6, off + 6 + len, depth + 1) then
            return false
        end
        off = off + 6 + len
    end
    return true
end

local dissect_fields

local function add_integer(ctx, item, tag, vr)
    local name = tags[tag][1]
    local size = tags[tag][2]
    local vitem = item:add(tag_field[tag], vr)
    local v = (size == U64) and vr:uint64() or vr:uint()
    local shown = tostring(v)
    if name == "flags" then
        local names = flag_names(ctx.type, v)
        shown = string.format("0x%04x", v)
        for _, b in ipairs(flag_sets[ctx.type] or (ctx.type >= 0x8000 and flag_sets.app) or {}) do
            vitem:add(b[1], vr)
        end
        if #names > 0 then vitem:append_text(" (" .. table.concat(names, ", ") .. ")") end
    elseif name == "reason" then
        local n = reason_name(ctx.type, v)
        vitem:append_text(" (" .. (n or "unknown reason") .. ")")
        shown = n or shown
    elseif name == "code" then
        shown = error_codes[v] or shown
    elseif name == "ref_type" then
        shown = string.format("0x%04x", v)
    elseif name == "link" then
        shown = "0x" .. v:tohex()
    elseif name == "heartbeat_ms" or name == "ttl_ms" then
        vitem:append_text(" ms")
    elseif name == "expires" then
        local ok, date = pcall(os.date, "!%Y-%m-%dT%H:%M:%SZ", math.floor(v:tonumber() / 1000))
        if ok and date then vitem:append_text(" (" .. date .. ")") end
    elseif name == "version" and v ~= 1 and ctx.used then
        vitem:add_proto_expert_info(ex.version, "version " .. v .. ": unsupported_version")
    end
    return shown, v
end

local sizes = { peer_key = 32, proof = 32, token = 56, link_key = 32 }

local function add_bytes(ctx, item, tag, vr, len)
    local name = tags[tag][1]
    local vitem = item:add(tag_field[tag], vr)
    local raw = len > 0 and vr:raw() or ""
    local want = sizes[name]
    if want and len ~= want and ctx.used then
        if name == "link_key" then
            vitem:add_proto_expert_info(ex.malformed_message,
                string.format("malformed_message: link_key of %d bytes, not 32", len))
        else
            vitem:add_proto_expert_info(ex.bad_size,
                string.format("%s of %d bytes, not %d", name, len, want))
        end
    end
    if name == "token" and len == 56 then
        local t = vr:tvb()
        vitem:add(f.token_expires, t(0, 8))
        vitem:add(f.token_nonce, t(8, 16))
        vitem:add(f.token_mac, t(24, 32))
    end
    if printable(raw) and name ~= "peer_key" and name ~= "proof" and name ~= "token" then
        return quoted(raw)
    end
    return string.format("<%d bytes>", len)
end

-- A DIRECTORY entry: the fields of a directory entry inside the field at off.
local function dissect_entry(tvb, off, len, pinfo, item, ctx)
    local sub = { type = ctx.type, spec = entry_fields }
    local ok, shown = dissect_fields(tvb, off + 6, off + 6 + len, pinfo, item, sub)
    if not ok then ctx.malformed = true end
    item:set_text("entry: " .. shown)
    local id = sub.values.client_id
    ctx.entry_names[#ctx.entry_names + 1] = id and quoted(id) or "?"
end

-- The value of the field at off as its tag's encoding says; returns its text for summaries
-- (nil when it has none) and its value.
local function dissect_value(tvb, off, len, pinfo, item, ctx, tag, used)
    local name, enc = tags[tag][1], tags[tag][2]
    local vr = tvb(off + 6, len)
    local fctx = { type = ctx.type, used = used }
    if enc == U16 or enc == U32 or enc == U64 then
        if len == enc then return add_integer(fctx, item, tag, vr) end
        item:add(f.bad_value, vr)
        if used then
            ctx.malformed = true
            item:add_proto_expert_info(ex.malformed_message, string.format(
                "malformed_message: %s is a u%d but has %d bytes", name, enc * 8, len))
        end
        return nil
    elseif enc == STR then
        item:add_packet_field(tag_field[tag], vr, ENC_UTF_8)
        local text = len > 0 and vr:string(ENC_UTF_8) or ""
        if name == "endpoint" and ctx.type == 0x0001 and len > 255 and used then
            item:add_proto_expert_info(ex.malformed_message,
                "malformed_message: endpoint over 255 bytes (§6.2)")
        end
        return quoted(text), text
    elseif enc == BYTES then
        return add_bytes(fctx, item, tag, vr, len)
    elseif enc == NESTED and used then
        dissect_entry(tvb, off, len, pinfo, item, ctx)
        return nil
    end
    item:add(enc == RESERVED and tag_field[tag] or f.undecoded, vr)
    return string.format("<%d bytes>", len)
end

-- One field at [off, off + 6 + len).
local function dissect_field(tvb, off, len, pinfo, tree, ctx)
    local tag = tvb(off, 2):uint()
    local t = tags[tag]
    local item = tree:add((t and t[2] == NESTED) and tag_field[tag] or f.field, tvb(off, 6 + len))
    item:add(f.tag, tvb(off, 2))
    item:add(f.field_length, tvb(off + 2, 4))
    if not t then
        item:set_text(string.format("Unknown tag %d, %d bytes", tag, len))
        item:add(f.unknown, tvb(off + 6, len))
        item:add_proto_expert_info(ex.unknown_tag,
            string.format("Tag %d is not defined (§4.2); skipped", tag))
        return
    end
    local name = t[1]
    local used = ctx.spec_tags[tag] ~= nil
    if not used and not ctx.quiet then
        item:add_proto_expert_info(ex.skipped, string.format(
            "%s is not a field of %s: skipped (§4.3 rule 2)", name, type_name(ctx.type)))
    elseif used and ctx.seen[tag] and t[2] ~= NESTED then
        item:add_proto_expert_info(ex.duplicate,
            name .. " appears again: the last one counts (§4.3 rule 4)")
    end
    ctx.seen[tag] = true
    local shown, value = dissect_value(tvb, off, len, pinfo, item, ctx, tag, used)
    if t[2] == NESTED and used then return end
    item:set_text(name .. ": " .. (shown or string.format("%d bytes of the wrong size", len)))
    if used and shown then
        ctx.values[name] = value
        ctx.summary[#ctx.summary + 1] = name .. "=" .. shown
    end
end

-- The fields in [off, stop) under tree, by the table ctx.spec; returns ok and a summary.
dissect_fields = function(tvb, off, stop, pinfo, tree, ctx)
    ctx.seen, ctx.values, ctx.summary, ctx.spec_tags = {}, {}, {}, {}
    for _, s in ipairs(ctx.spec) do ctx.spec_tags[s[1]] = s[2] end
    if ctx.spec == messages[0x0003] then ctx.entries, ctx.entry_names = true, {} end
    while off < stop do
        local left = stop - off
        if left < 6 then
            tree:add(f.undecoded, tvb(off, left)):add_proto_expert_info(ex.malformed_field,
                string.format("malformed_field: %d bytes left, fewer than a field header", left))
            return false, table.concat(ctx.summary, ", ")
        end
        local len = tvb(off + 2, 4):uint()
        if len > left - 6 then
            local item = tree:add(f.field, tvb(off, left))
            item:set_text(string.format("Field of %d bytes in %d", len, left - 6))
            item:add(f.tag, tvb(off, 2))
            item:add(f.field_length, tvb(off + 2, 4))
            item:add_proto_expert_info(ex.malformed_field,
                string.format("malformed_field: length %d, but %d bytes remain", len, left - 6))
            return false, table.concat(ctx.summary, ", ")
        end
        dissect_field(tvb, off, len, pinfo, tree, ctx)
        off = off + 6 + len
    end
    if ctx.malformed then return false, table.concat(ctx.summary, ", ") end
    for _, s in ipairs(ctx.spec) do
        if s[2] == R and not ctx.seen[s[1]] then
            tree:add_proto_expert_info(ex.missing_field,
                "missing_field: no " .. tags[s[1]][1] .. " (§4.3 rule 6)")
        end
    end
    return true, table.concat(ctx.summary, ", ")
end

------------------------------------------------------------------------------------------
-- Frames (§2): type u16 · length u32 · value

-- Dissects the whole frame at [off, off + 6 + len) of tvb; returns its summary.
local function dissect_frame(tvb, off, len, pinfo, root)
    local ftype = tvb(off, 2):uint()
    local name = type_name(ftype)
    local item = root:add(libnet, tvb(off, 6 + len))
    item:add(f.type, tvb(off, 2))
    item:add(f.length, tvb(off + 2, 4))
    local spec = messages[ftype] or (ftype >= 0x8000 and app_fields)
    local label = frame_types[ftype] or (ftype >= 0x8000 and string.format("0x%04x", ftype)) or name
    local summary
    if spec then
        local ctx = { type = ftype, spec = spec }
        local _, s = dissect_fields(tvb, off + 6, off + 6 + len, pinfo, item, ctx)
        if ftype == 0x0003 then
            s = table.concat(ctx.entry_names or {}, ", ")
        end
        summary = label .. ((s ~= "" or ftype == 0x0003) and "(" .. s .. ")" or "")
    else
        item:add_proto_expert_info(ex.unknown_type,
                                   name .. ": receivers answer ERROR(unknown_type) (§12)")
        if len > 0 and fields_frame(tvb, off + 6, off + 6 + len, 0) then
            local ctx = { type = ftype, spec = {}, quiet = true }
            dissect_fields(tvb, off + 6, off + 6 + len, pinfo, item, ctx)
        elseif len > 0 then
            item:add(f.undecoded, tvb(off + 6, len))
        end
        summary = label
    end
    item:append_text(", " .. summary)
    return summary
end

-- Frames back to back in tvb from off; a frame cut at the end asks for more when it can.
-- Returns the bytes taken (nil when it asked for more) and whether the last frame was whole.
local function dissect_frames(tvb, off, pinfo, root, summaries, may_desegment)
    local n = tvb:len()
    while off < n do
        local left = n - off
        if left < 6 then
            if may_desegment and pinfo.can_desegment > 0 then
                pinfo.desegment_offset = off
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                return nil
            end
            root:add(libnet, tvb(off, left)):add_proto_expert_info(ex.incomplete,
                string.format("%d bytes of a frame header", left))
            return n, false
        end
        local len = tvb(off + 2, 4):uint()
        if len > libnet.prefs.max_frame then
            local item = root:add(libnet, tvb(off, left))
            item:add(f.type, tvb(off, 2))
            item:add(f.length, tvb(off + 2, 4))
            item:add_proto_expert_info(ex.frame_too_large, string.format(
                "frame_too_large: length %d over max_frame %d; the stream cannot be resynchronised",
                len, libnet.prefs.max_frame))
            if left > 6 then item:add(f.undecoded, tvb(off + 6, left - 6)) end
            summaries[#summaries + 1] = type_name(tvb(off, 2):uint()) .. " (frame_too_large)"
            return n, false
        end
        if left - 6 < len then
            if may_desegment and pinfo.can_desegment > 0 then
                pinfo.desegment_offset = off
                pinfo.desegment_len = len - (left - 6)
                return nil
            end
            local item = root:add(libnet, tvb(off, left))
            item:add(f.type, tvb(off, 2))
            item:add(f.length, tvb(off + 2, 4))
            item:add_proto_expert_info(ex.incomplete, string.format(
                "%s: %d of %d value bytes here", type_name(tvb(off, 2):uint()), left - 6, len))
            return n, false
        end
        summaries[#summaries + 1] = dissect_frame(tvb, off, len, pinfo, root)
        off = off + 6 + len
    end
    return off, true
end

local function set_info(pinfo, summaries)
    if #summaries == 0 then return end
    local text = table.concat(summaries, ", ")
    if tostring(pinfo.cols.protocol) == "libnet" then
        pinfo.cols.info:append(", " .. text)
    else
        pinfo.cols.protocol = "libnet"
        pinfo.cols.info = text
    end
end

------------------------------------------------------------------------------------------
-- TCP

local tcp_stream = Field.new("tcp.stream")
local tls_streams = {} -- tcp.stream -> true once it started with a TLS record (§2.1)
local tls_libnet = {}  -- tcp.stream -> true once its decrypted data started with libnet
local tls_handle = Dissector.get("tls")

function libnet.init()
    tls_streams, tls_libnet = {}, {}
end

local function stream_of(pinfo)
    local s = tcp_stream()
    return s and s.value
end

local function dissect_tcp(tvb, pinfo, tree)
    local summaries = {}
    local taken = dissect_frames(tvb, 0, pinfo, tree, summaries, true)
    set_info(pinfo, summaries)
    return taken or tvb:len()
end

function libnet.dissector(tvb, pinfo, tree)
    local s = stream_of(pinfo)
    if s and tls_streams[s] == nil then
        -- The first byte of a TLS connection is 0x16, of a libnet one 0x00 (HELLO).
        tls_streams[s] = tvb:len() >= 3 and tvb(0, 1):uint() == 0x16 and tvb(1, 1):uint() == 0x03
    end
    if s and tls_streams[s] then return tls_handle:call(tvb, pinfo, tree) end
    return dissect_tcp(tvb, pinfo, tree)
end

-- A connection's first frame, whole, of a type whose version field must be 1.
local first_types = { [0x0001] = true, [0x0002] = true, [0x0022] = true, [0x0023] = true }

local function looks_like_start(tvb)
    local n = tvb:len()
    if n < 6 then return false end
    local ftype, len = tvb(0, 2):uint(), tvb(2, 4):uint()
    if not first_types[ftype] or len > n - 6 or len > 65536 then return false end
    if not fields_frame(tvb, 6, 6 + len, 1) then return false end
    local off = 6
    while off < 6 + len do
        local tag, flen = tvb(off, 2):uint(), tvb(off + 2, 4):uint()
        if tag == 1 then return flen == 2 and tvb(off + 6, 2):uint() == 1 end
        off = off + 6 + flen
    end
    return false
end

local function heuristic_tcp(tvb, pinfo, tree)
    if not looks_like_start(tvb) then return false end
    local s = stream_of(pinfo)
    if s then tls_streams[s] = false end
    pinfo.conversation = libnet
    dissect_tcp(tvb, pinfo, tree)
    return true
end

local function heuristic_tls(tvb, pinfo, tree)
    local s = stream_of(pinfo)
    if not (s and tls_libnet[s]) then
        if not looks_like_start(tvb) then return false end
        if s then tls_libnet[s] = true end
    end
    dissect_tcp(tvb, pinfo, tree)
    return true
end

local tcp_table = DissectorTable.get("tcp.port")
local tcp_registered = ""

function libnet.prefs_changed()
    if tcp_registered == libnet.prefs.tcp_ports then return end
    if tcp_registered ~= "" then tcp_table:remove(tcp_registered, libnet) end
    tcp_registered = libnet.prefs.tcp_ports
    if tcp_registered ~= "" then tcp_table:add(tcp_registered, libnet) end
end

tcp_registered = libnet.prefs.tcp_ports
tcp_table:add(tcp_registered, libnet)
tcp_table:add_for_decode_as(libnet)
libnet:register_heuristic("tcp", heuristic_tcp)
libnet:register_heuristic("tls", heuristic_tls)

------------------------------------------------------------------------------------------
-- UDP transport (§17): kind u8 and the fields of its kind

local kinds = { [1] = "INIT", [2] = "COOKIE", [3] = "ACCEPT", [4] = "DATA", [5] = "RESET",
                [6] = "CHALLENGE", [7] = "RESPONSE" }

local data_bits = { { 0x01, "ack" }, { 0x02, "packet" }, { 0x04, "fin" }, { 0x08, "continued" },
                    { 0x10, "continues" }, { 0x20, "ack_request" } }

local uf = {
    kind = ProtoField.uint8("libnet_udp.kind", "Kind", base.DEC, kinds),
    version = ProtoField.uint8("libnet_udp.version", "Version", base.DEC),
    nonce = ProtoField.uint64("libnet_udp.nonce", "Nonce", base.HEX),
    cookie_length = ProtoField.uint8("libnet_udp.cookie_length", "Cookie length", base.DEC),
    cookie = ProtoField.bytes("libnet_udp.cookie", "Cookie"),
    cookie_time = ProtoField.uint32("libnet_udp.cookie.time",
                                    "Cookie time (libnet: s since the key)", base.DEC),
    cookie_mac = ProtoField.bytes("libnet_udp.cookie.mac", "Cookie MAC (libnet)"),
    padding = ProtoField.bytes("libnet_udp.padding", "Padding"),
    cid = ProtoField.uint64("libnet_udp.cid", "Connection id", base.HEX),
    max_datagram = ProtoField.uint16("libnet_udp.max_datagram", "Max datagram", base.DEC),
    token = ProtoField.uint64("libnet_udp.token", "Token", base.HEX),
    flags = ProtoField.uint8("libnet_udp.flags", "Flags", base.HEX),
    ack = ProtoField.none("libnet_udp.ack", "Acknowledgement"),
    ack_next = ProtoField.uint32("libnet_udp.ack.next", "Next", base.DEC),
    ack_window = ProtoField.uint16("libnet_udp.ack.window", "Window", base.DEC),
    ack_delay = ProtoField.uint16("libnet_udp.ack.delay", "Delay (8 µs units)", base.DEC),
    ack_count = ProtoField.uint8("libnet_udp.ack.count", "Ranges", base.DEC),
    ack_range = ProtoField.none("libnet_udp.ack.range", "Range"),
    ack_gap = ProtoField.uint16("libnet_udp.ack.gap", "Gap", base.DEC),
    ack_length = ProtoField.uint16("libnet_udp.ack.length", "Length", base.DEC),
    number = ProtoField.uint32("libnet_udp.number", "Packet number", base.DEC),
    payload = ProtoField.bytes("libnet_udp.payload", "Payload"),
    fragment = ProtoField.bytes("libnet_udp.fragment", "Fragment"),
    trailing = ProtoField.bytes("libnet_udp.trailing", "Bytes after the fields"),
}
for _, b in ipairs(data_bits) do
    uf["flag_" .. b[2]] = ProtoField.bool("libnet_udp.flags." .. b[2], b[2], 8, nil, b[1])
end
uf.flag_reserved = ProtoField.uint8("libnet_udp.flags.reserved", "reserved", base.HEX, nil, 0xc0)
local ufields = {}
for _, pf in pairs(uf) do ufields[#ufields + 1] = pf end
udp_proto.fields = ufields

local uex = {
    malformed = ProtoExpert.new("libnet_udp.expert.malformed", "Malformed datagram (§17.2)",
                                expert.group.MALFORMED, expert.severity.ERROR),
    reassembled = ProtoExpert.new("libnet_udp.expert.fragment", "Fragment of a frame",
                                  expert.group.REASSEMBLE, expert.severity.CHAT),
}
udp_proto.experts = { uex.malformed, uex.reassembled }

udp_proto.prefs.udp_ports = Pref.range("UDP ports", "7000",
    "UDP ports of libnet servers; other flows are found by heuristics", 65535)

local function malformed(item, text)
    item:add_proto_expert_info(uex.malformed, "malformed datagram: " .. text)
end

-- Fixed layouts after the kind byte: {field, size} ...
local fixed = {
    [2] = { 30, { { uf.version, 1 }, { uf.nonce, 8 }, { uf.cookie, 20 } } },
    [3] = { 20, { { uf.version, 1 }, { uf.nonce, 8 }, { uf.cid, 8 }, { uf.max_datagram, 2 } } },
    [5] = { 9, { { uf.cid, 8 } } },
    [6] = { 17, { { uf.cid, 8 }, { uf.token, 8 } } },
    [7] = { 17, { { uf.cid, 8 }, { uf.token, 8 } } },
}

local function add_cookie(item, tvb, off)
    local c = item:add(uf.cookie, tvb(off, 20))
    c:add(uf.cookie_time, tvb(off, 4))
    c:add(uf.cookie_mac, tvb(off + 4, 16))
end

local function dissect_fixed(tvb, kind, item)
    local size, layout = fixed[kind][1], fixed[kind][2]
    local n = tvb:len()
    local off, info = 1, {}
    for _, fld in ipairs(layout) do
        if n - off < fld[2] then
            malformed(item, string.format("%s ends before its fields do (%d bytes, not %d)",
                                          kinds[kind], n, size))
            return info
        end
        if fld[1] == uf.cookie then
            add_cookie(item, tvb, off)
        else
            item:add(fld[1], tvb(off, fld[2]))
        end
        if fld[1] == uf.version and tvb(off, 1):uint() ~= 1 then
            malformed(item, "version is not 1")
        end
        if fld[1] == uf.nonce then info[#info + 1] = "nonce=0x" .. tvb(off, 8):uint64():tohex() end
        if fld[1] == uf.cid then info[#info + 1] = "cid=0x" .. tvb(off, 8):uint64():tohex() end
        if fld[1] == uf.token then info[#info + 1] = "token=0x" .. tvb(off, 8):uint64():tohex() end
        if fld[1] == uf.max_datagram then
            info[#info + 1] = "max_datagram=" .. tvb(off, 2):uint()
        end
        off = off + fld[2]
    end
    if n > off then
        item:add(uf.trailing, tvb(off, n - off))
        malformed(item, string.format("%d bytes follow its fields", n - off))
    end
    return info
end

local function dissect_init(tvb, item)
    local n = tvb:len()
    if n < 11 then
        malformed(item, "INIT ends before its fields do")
        return {}
    end
    item:add(uf.version, tvb(1, 1))
    item:add(uf.nonce, tvb(2, 8))
    item:add(uf.cookie_length, tvb(10, 1))
    if tvb(1, 1):uint() ~= 1 then malformed(item, "version is not 1") end
    local info = { "nonce=0x" .. tvb(2, 8):uint64():tohex() }
    local cl = tvb(10, 1):uint()
    local off = 11
    if cl ~= 0 and cl ~= 20 then
        malformed(item, "cookie_length is " .. cl .. ", not 0 or 20")
    elseif cl == 20 and n >= 31 then
        add_cookie(item, tvb, 11)
        off = 31
        info[#info + 1] = "cookie"
    elseif cl == 20 then
        malformed(item, "INIT ends inside its cookie")
        return info
    end
    if n > off then item:add(uf.padding, tvb(off, n - off)) end
    if n < 64 then malformed(item, string.format("INIT of %d bytes, shorter than 64", n)) end
    return info
end

-- Fragments (§17.6), reassembled on the first pass: key .. number -> {flags, bytes}.
local fragments, reassembled = {}, {}

function udp_proto.init()
    fragments, reassembled = {}, {}
end

local function in_ports(port, ranges)
    for part in string.gmatch(ranges, "[^,%s]+") do
        local lo, hi = part:match("^(%d+)%-(%d+)$")
        if lo then
            if port >= tonumber(lo) and port <= tonumber(hi) then return true end
        elseif tonumber(part) == port then
            return true
        end
    end
    return false
end

local function direction_key(pinfo, cid)
    local ports = udp_proto.prefs.udp_ports
    if in_ports(pinfo.src_port, ports) then return cid .. "<" end
    if in_ports(pinfo.dst_port, ports) then return cid .. ">" end
    return cid .. tostring(pinfo.src) .. ":" .. pinfo.src_port
end

local function reassemble(key, number, flags, bytes, pinfo)
    if pinfo.visited then return reassembled[pinfo.number] end
    fragments[key .. "#" .. number] = { flags, bytes }
    if band(flags, 0x10) ~= 0 then return nil end -- not the last fragment yet
    local parts, n = {}, number
    for _ = 1, 65536 do
        local p = fragments[key .. "#" .. n]
        if not p then return nil end
        table.insert(parts, 1, p[2])
        if band(p[1], 0x08) == 0 then
            local whole = ByteArray.new()
            for _, b in ipairs(parts) do whole:append(b) end
            reassembled[pinfo.number] = whole
            return whole
        end
        n = (n + 4294967295) % 4294967296
    end
    return nil
end

local function dissect_payload(tvb, off, flags, number, key, pinfo, item, root, info)
    local n = tvb:len()
    local fragment = band(flags, 0x18) ~= 0
    if not fragment then
        local summaries = {}
        local ptvb = tvb(off, n - off):tvb()
        local pitem = item:add(uf.payload, tvb(off, n - off))
        local _, whole = dissect_frames(ptvb, 0, pinfo, root, summaries, false)
        if not whole then pitem:add_proto_expert_info(ex.not_boundary) end
        info[#info + 1] = "packet " .. number .. ": " .. table.concat(summaries, ", ")
        return
    end
    local fitem = item:add(uf.fragment, tvb(off, n - off))
    local which = "middle"
    if band(flags, 0x08) == 0 then
        which = "first"
    elseif band(flags, 0x10) == 0 then
        which = "last"
    end
    local text = which .. " fragment"
    if which == "first" and n - off >= 6 then
        text = string.format("first fragment of %s (%d bytes of value)",
                             type_name(tvb(off, 2):uint()), tvb(off + 2, 4):uint())
    end
    fitem:add_proto_expert_info(uex.reassembled, text)
    local whole = reassemble(key, number, flags, tvb(off, n - off):bytes(), pinfo)
    if whole then
        local summaries = {}
        local rtvb = whole:tvb("Reassembled libnet frame")
        dissect_frames(rtvb, 0, pinfo, root, summaries, false)
        text = text .. ", reassembled: " .. table.concat(summaries, ", ")
    end
    info[#info + 1] = "packet " .. number .. ": " .. text
end

-- The flags byte of a DATA and the rules of §17.5 about them.
local function dissect_data_flags(tvb, item)
    local flags = tvb(9, 1):uint()
    local fitem = item:add(uf.flags, tvb(9, 1))
    local names = {}
    for _, b in ipairs(data_bits) do
        fitem:add(uf["flag_" .. b[2]], tvb(9, 1))
        if band(flags, b[1]) ~= 0 then names[#names + 1] = b[2] end
    end
    fitem:add(uf.flag_reserved, tvb(9, 1))
    if #names > 0 then fitem:append_text(" (" .. table.concat(names, " | ") .. ")") end
    local has = function(m) return band(flags, m) ~= 0 end
    if band(flags, 0xc0) ~= 0 then malformed(fitem, "reserved flag bits 0xc0 set") end
    if not (has(0x01) or has(0x02) or has(0x20)) then
        malformed(fitem, "none of ack, packet and ack_request")
    end
    if not has(0x02) and (has(0x04) or has(0x08) or has(0x10)) then
        malformed(fitem, "fin, continued or continues without packet")
    end
    if has(0x04) and (has(0x08) or has(0x10)) then
        malformed(fitem, "fin with continued or continues")
    end
    return flags, has
end

-- The acknowledgement block at off; returns the offset after it, or nil if it is cut short.
local function dissect_ack(tvb, off, item, info)
    local n = tvb:len()
    if n - off < 9 then
        malformed(item, "DATA ends inside its acknowledgement block")
        return nil
    end
    local count = tvb(off + 8, 1):uint()
    local size = 9 + 4 * count
    local aitem = item:add(uf.ack, tvb(off, math.min(size, n - off)))
    aitem:add(uf.ack_next, tvb(off, 4))
    aitem:add(uf.ack_window, tvb(off + 4, 2))
    local delay = tvb(off + 6, 2):uint()
    aitem:add(uf.ack_delay, tvb(off + 6, 2)):append_text(delay == 0xffff
        and " (none measured, or 524 ms and more)" or string.format(" (%d µs)", delay * 8))
    aitem:add(uf.ack_count, tvb(off + 8, 1))
    local nxt = tvb(off, 4):uint()
    local text = { string.format("ack next=%d window=%d", nxt, tvb(off + 4, 2):uint()) }
    if count > 8 then malformed(aitem, "more than 8 ranges") end
    if n - off < size then
        malformed(aitem, "DATA ends inside its acknowledgement ranges")
        return nil
    end
    local start = nxt
    for i = 0, count - 1 do
        local r = off + 9 + 4 * i
        local gap, len = tvb(r, 2):uint(), tvb(r + 2, 2):uint()
        local lo = (start + gap) % 4294967296
        local hi = (lo + len + 4294967295) % 4294967296
        local ritem = aitem:add(uf.ack_range, tvb(r, 4))
        ritem:add(uf.ack_gap, tvb(r, 2))
        ritem:add(uf.ack_length, tvb(r + 2, 2))
        ritem:set_text(string.format("Range: packets %d-%d (%d missing before)", lo, hi, gap))
        text[#text + 1] = string.format("%d-%d", lo, hi)
        if gap == 0 or len == 0 then malformed(ritem, "a range with gap 0 or length 0") end
        start = (hi + 1) % 4294967296
    end
    aitem:set_text("Acknowledgement: " .. table.concat(text, " "))
    info[#info + 1] = table.concat(text, " ")
    return off + size
end

local function dissect_data(tvb, item, pinfo, root)
    local n = tvb:len()
    if n < 10 then
        malformed(item, "DATA ends before its header does")
        return {}
    end
    item:add(uf.cid, tvb(1, 8))
    local cid = tvb(1, 8):uint64():tohex()
    local info = { "cid=0x" .. cid }
    local flags, has = dissect_data_flags(tvb, item)
    local off = 10
    if has(0x01) then
        off = dissect_ack(tvb, off, item, info)
        if not off then return info end
    end
    if has(0x02) then
        if n - off < 4 then
            malformed(item, "DATA ends before its packet number")
            return info
        end
        local number = tvb(off, 4):uint()
        item:add(uf.number, tvb(off, 4))
        off = off + 4
        if has(0x04) then
            if n > off then
                item:add(uf.trailing, tvb(off, n - off))
                malformed(item, "a packet with fin has a payload")
            end
            info[#info + 1] = "packet " .. number .. ": fin"
        elseif n == off then
            malformed(item, "a packet without fin has no payload")
        else
            local key = direction_key(pinfo, cid)
            dissect_payload(tvb, off, flags, number, key, pinfo, item, root, info)
        end
    elseif n > off then
        item:add(uf.trailing, tvb(off, n - off))
        malformed(item, string.format("%d bytes follow its fields", n - off))
    end
    if has(0x20) then info[#info + 1] = "ack_request" end
    return info
end

function udp_proto.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol = "libnet UDP"
    local n = tvb:len()
    local item = tree:add(udp_proto, tvb())
    if n == 0 then
        malformed(item, "empty")
        pinfo.cols.info = "empty datagram"
        return n
    end
    item:add(uf.kind, tvb(0, 1))
    local kind = tvb(0, 1):uint()
    local name = kinds[kind]
    local info
    if not name then
        malformed(item, "kind " .. kind .. " is not 1-7")
        pinfo.cols.info = "unknown kind " .. kind
        if n > 1 then item:add(uf.trailing, tvb(1, n - 1)) end
        return n
    elseif kind == 1 then
        info = dissect_init(tvb, item)
    elseif kind == 4 then
        info = dissect_data(tvb, item, pinfo, tree)
    else
        info = dissect_fixed(tvb, kind, item)
    end
    item:append_text(", " .. name)
    pinfo.cols.info = name .. " " .. table.concat(info, ", ")
    return n
end

local function heuristic_udp(tvb, pinfo, tree)
    local n = tvb:len()
    if n < 20 or tvb(1, 1):uint() ~= 1 then return false end
    local kind = tvb(0, 1):uint()
    local ok = (kind == 1 and n >= 64 and (tvb(10, 1):uint() == 0 or tvb(10, 1):uint() == 20))
        or (kind == 2 and n == 30) or (kind == 3 and n == 20)
    if not ok then return false end
    pinfo.conversation = udp_proto
    udp_proto.dissector(tvb, pinfo, tree)
    return true
end

local udp_table = DissectorTable.get("udp.port")
local udp_registered = udp_proto.prefs.udp_ports
udp_table:add(udp_registered, udp_proto)
udp_table:add_for_decode_as(udp_proto)
udp_proto:register_heuristic("udp", heuristic_udp)

function udp_proto.prefs_changed()
    if udp_registered == udp_proto.prefs.udp_ports then return end
    if udp_registered ~= "" then udp_table:remove(udp_registered, udp_proto) end
    udp_registered = udp_proto.prefs.udp_ports
    if udp_registered ~= "" then udp_table:add(udp_registered, udp_proto) end
end
