# SPDX-License-Identifier: BSL-1.0
"""A minimal libnet client speaking the wire protocol directly, for end-to-end tests.

Frames are a 2-byte type and a 4-byte length (big-endian), then the value: fields of a
2-byte tag, a 4-byte length and the value (libnet/include/libnet/codec.hpp, messages.hpp).
Only what the tests need is here; every read has a deadline.
"""
import socket
import struct
import time

PROTOCOL_VERSION = 1

# Frame types (libnet/include/libnet/frame.hpp).
HELLO, WELCOME, DIRECTORY, JOINED, LEFT, SEND, DELIVER = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
BROADCAST, ERROR, TERM, BYE, PING, PONG = 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D
ACK, GET, STORED, FETCHED = 0x10, 0x11, 0x12, 0x13

# Field tags and their integer widths (libnet/include/libnet/detail/message_fields.hpp);
# a tag missing from INT_FORMATS holds bytes (ids and bodies are UTF-8 text).
VERSION, CLIENT_ID, CREDENTIALS, TEXT, TO, FROM, BODY = 1, 2, 4, 11, 12, 13, 14
SEQ, CODE, REF, NONCE, FLAGS, COUNT, PENDING = 15, 16, 17, 19, 21, 29, 30
JOIN_SEQ, REASON = 9, 10
INT_FORMATS = {VERSION: ">H", SEQ: ">Q", CODE: ">H", REF: ">Q", NONCE: ">Q", FLAGS: ">H",
               REASON: ">H",
               COUNT: ">I", PENDING: ">I", 18: ">H", 5: ">I", 6: ">I", 7: ">I", 9: ">Q"}

# Flag bits (messages.hpp).
FLAG_CONFIRM, FLAG_MAILBOX = 0x0004, 0x0008
HELLO_PULL = 0x0001
WELCOME_MAILBOX, WELCOME_DURABLE = 0x0001, 0x0002
STORED_DURABLE = 0x0001

# Error codes (libnet/include/libnet/error.hpp).
NOT_ALLOWED, AUTH_FAILED, NO_SUCH_CLIENT, QUEUE_FULL, STORE_FAILED = 37, 38, 64, 66, 70


NAMES = {"version": VERSION, "client_id": CLIENT_ID, "credentials": CREDENTIALS, "to": TO,
         "body": BODY, "seq": SEQ, "ref": REF, "nonce": NONCE, "flags": FLAGS, "count": COUNT}


def encode(frame_type, **fields):
    """One frame, its fields given by the names in NAMES, written in the order given."""
    body = b""
    for name, value in fields.items():
        tag = NAMES[name]
        if isinstance(value, int):
            value = struct.pack(INT_FORMATS[tag], value)
        elif isinstance(value, str):
            value = value.encode()
        body += struct.pack(">HI", tag, len(value)) + value
    return struct.pack(">HI", frame_type, len(body)) + body


def decode_fields(value):
    """The fields of a frame's value as {tag: int or bytes} (the last duplicate wins)."""
    out, at = {}, 0
    while at < len(value):
        if len(value) - at < 6:
            raise ValueError("truncated field header")
        tag, length = struct.unpack_from(">HI", value, at)
        at += 6
        if len(value) - at < length:
            raise ValueError(f"field {tag} claims {length} bytes, {len(value) - at} left")
        raw = value[at:at + length]
        at += length
        fmt = INT_FORMATS.get(tag)
        out[tag] = struct.unpack(fmt, raw)[0] if fmt and len(raw) == struct.calcsize(fmt) else raw
    return out


class Closed(Exception):
    """The server closed the connection (or it broke)."""


class Connection:
    """One connection to a libnet server; frames go out whole and come back decoded."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, frame_type, **fields):
        try:
            self.sock.sendall(encode(frame_type, **fields))
        except OSError as e:
            raise Closed(str(e)) from e

    def read(self, timeout):
        """The next frame as (type, fields), or None when none came within `timeout` s."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 6:
                frame_type, length = struct.unpack_from(">HI", self.buf)
                if len(self.buf) - 6 >= length:
                    value = self.buf[6:6 + length]
                    self.buf = self.buf[6 + length:]
                    return frame_type, decode_fields(value)
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError as e:
                raise Closed(str(e)) from e
            if not chunk:
                raise Closed("end of stream")
            self.buf += chunk

    def register(self, client_id, timeout, **hello_fields):
        """Sends HELLO; returns WELCOME's fields once DIRECTORY has followed it. An ERROR
        instead raises RuntimeError with its code."""
        self.send(HELLO, version=PROTOCOL_VERSION, client_id=client_id, **hello_fields)
        end = time.monotonic() + timeout
        welcome = None
        while (left := end - time.monotonic()) > 0:
            got = self.read(left)
            if got is None:
                break
            frame_type, f = got
            if frame_type == ERROR:
                raise RuntimeError(f"registration refused: ERROR code {f.get(CODE)} "
                                   f"{f.get(TEXT, b'').decode(errors='replace')!r}")
            if frame_type == WELCOME:
                welcome = f
            elif frame_type == DIRECTORY and welcome is not None:
                return welcome
        raise TimeoutError(f"no WELCOME and DIRECTORY within {timeout}s")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
