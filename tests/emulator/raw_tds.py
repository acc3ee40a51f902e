"""A bare TDS 7.4 client for protocol tests that drivers cannot express.

Drivers hide packets: this client sends exactly the packets a test asks for (tiny packets,
ATTENTION at a chosen moment, a socket dropped mid-response) and reads responses as raw token
bytes without decoding rows, which also measures what the server alone can deliver.
Written from [MS-TDS] independently of the emulator's own modules, so a misreading of the spec
on one side is not mirrored on the other.
"""

from __future__ import annotations

import socket
import ssl
import struct

SQL_BATCH, ATTENTION, LOGIN7, PRELOGIN = 0x01, 0x06, 0x10, 0x12
EOM = 0x01
DONE_TOKEN = 0xFD
DONE_ERROR, DONE_ATTN = 0x02, 0x20
LOGINACK_TOKEN = 0xAD
# PRELOGIN ENCRYPTION values ([MS-TDS] 2.2.6.5)
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0x00, 0x01, 0x02, 0x03


def prelogin_payload(encryption: int) -> bytes:
    """PRELOGIN with VERSION and ENCRYPTION only: option headers, terminator, then the data."""
    version = struct.pack(">IH", 0x0C000000, 0)
    head = struct.pack(">BHHBHHB", 0x00, 11, len(version), 0x01, 11 + len(version), 1, 0xFF)
    return head + version + bytes([encryption])


def prelogin_option(payload: bytes, token: int) -> bytes | None:
    """The data of one PRELOGIN option of a server's answer."""
    pos = 0
    while payload[pos] != 0xFF:
        option, offset, length = struct.unpack_from(">BHH", payload, pos)
        if option == token:
            return payload[offset : offset + length]
        pos += 5
    return None


class _TlsStream:
    """TLS records straight on a socket after a handshake done elsewhere (recv/sendall only)."""

    def __init__(
        self, sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO
    ):
        self.sock, self.tls, self.incoming, self.outgoing = sock, tls, incoming, outgoing

    def sendall(self, data: bytes) -> None:
        self.tls.write(data)
        self.sock.sendall(self.outgoing.read())

    def recv(self, n: int) -> bytes:
        while True:
            try:
                return self.tls.read(n)
            except ssl.SSLWantReadError:
                data = self.sock.recv(65536)
                if not data:
                    return b""
                self.incoming.write(data)

    def setsockopt(self, *args) -> None:
        self.sock.setsockopt(*args)

    def close(self) -> None:
        self.sock.close()


def obfuscate_password(password: str) -> bytes:
    """LOGIN7 password: nibbles of each UTF-16LE byte swapped, then XOR 0xA5."""
    return bytes((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5 for b in password.encode("utf-16-le"))


def login7_payload(
    user: str, password: str, database: str, packet_size: int, tds_version: int = 0x74000004
) -> bytes:
    strings = [
        ("host", "raw-test".encode("utf-16-le")),
        ("user", user.encode("utf-16-le")),
        ("password", obfuscate_password(password)),
        ("app", "raw_tds".encode("utf-16-le")),
        ("server", b""),
        ("extension", b""),
        ("library", "raw_tds".encode("utf-16-le")),
        ("language", b""),
        ("database", database.encode("utf-16-le")),
    ]
    fixed_size = 94
    offset = fixed_size
    pointers, data = b"", b""
    for _name, value in strings:
        pointers += struct.pack("<HH", offset, len(value) // 2)
        data += value
        offset += len(value)
    pointers += b"\x00" * 6  # ClientID
    pointers += struct.pack("<HHHHHHI", offset, 0, offset, 0, offset, 0, 0)  # SSPI, AtchDB, ChPwd
    body = (
        struct.pack("<IIIIII", 0, tds_version, packet_size, 7, 4242, 0)  # Length set below
        + bytes([0xE0, 0x03, 0x00, 0x00])  # OptionFlags1, OptionFlags2 (ODBC), TypeFlags, Flags3
        + struct.pack("<iI", 0, 0x0409)
        + pointers
    )
    assert len(body) == fixed_size
    payload = body + data
    return struct.pack("<I", len(payload)) + payload[4:]


def all_headers() -> bytes:
    """ALL_HEADERS with the transaction descriptor header (no transaction)."""
    return struct.pack("<IIHQI", 22, 18, 2, 0, 1)


class RawTdsClient:
    def __init__(self, host: str, port: int, packet_size: int = 4096, timeout: float = 30):
        self.raw_sock = socket.create_connection((host, port), timeout=timeout)
        self.sock = self.raw_sock
        self.packet_size = packet_size
        self.last_packet_type: int | None = None
        self.tls: ssl.SSLObject | ssl.SSLSocket | None = None

    def send(
        self, packet_type: int, payload: bytes, packet_size: int | None = None, first_status: int = 0
    ) -> None:
        """Send one message split into packets of ``packet_size`` (header included);
        ``first_status`` adds status bits to the first packet (RESETCONNECTION, 0x08, say)."""
        body = (packet_size or self.packet_size) - 8
        chunks = [payload[i : i + body] for i in range(0, len(payload), body)] or [b""]
        out = b""
        for number, chunk in enumerate(chunks, start=1):
            status = (EOM if number == len(chunks) else 0) | (first_status if number == 1 else 0)
            out += struct.pack(">BBHHBB", packet_type, status, len(chunk) + 8, 0, number & 0xFF, 0)
            out += chunk
        self.sock.sendall(out)

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return data

    def read_packet(self) -> tuple[int, bytes]:
        ptype, status, length, _spid, _id, _window = struct.unpack(">BBHHBB", self._read_exact(8))
        self.last_packet_type = ptype
        return status, self._read_exact(length - 8)

    def read_message(self) -> bytes:
        """The token bytes of one whole response (up to the packet with EOM)."""
        parts = []
        while True:
            status, payload = self.read_packet()
            parts.append(payload)
            if status & EOM:
                return b"".join(parts)

    def drain_message(self) -> int:
        """Read one response and throw it away; returns its size in bytes."""
        size = 0
        while True:
            status, payload = self.read_packet()
            size += len(payload)
            if status & EOM:
                return size

    def login(self, user: str, password: str, database: str) -> bytes:
        prelogin = struct.pack(">BHHB", 0x01, 6, 1, 0xFF) + b"\x02"  # ENCRYPTION: NOT_SUP
        self.send(PRELOGIN, prelogin)
        self.read_message()
        self.send(LOGIN7, login7_payload(user, password, database, self.packet_size))
        return self.read_message()

    def prelogin(self, encryption: int) -> int:
        """Send PRELOGIN asking for ``encryption``; the server's ENCRYPTION answer."""
        self.send(PRELOGIN, prelogin_payload(encryption))
        return prelogin_option(self.read_message(), 0x01)[0]

    def login7(self, user: str, password: str, database: str, tds_version: int = 0x74000004) -> bytes:
        self.send(LOGIN7, login7_payload(user, password, database, self.packet_size, tds_version))
        return self.read_message()

    def tls_in_prelogin(self, context: ssl.SSLContext, server_hostname: str | None = None) -> list[int]:
        """TDS 7.x TLS handshake, each TLS flight in PRELOGIN packets; the server's packet types."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
        server_packet_types = []
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            if outgoing.pending:
                self.send(PRELOGIN, outgoing.read())
            incoming.write(self.read_message())
            server_packet_types.append(self.last_packet_type)
        if outgoing.pending:
            self.send(PRELOGIN, outgoing.read())
        self.tls = tls
        self.sock = _TlsStream(self.raw_sock, tls, incoming, outgoing)
        return server_packet_types

    def tls_first(self, context: ssl.SSLContext, server_hostname: str | None = None) -> None:
        """TDS 8.0: TLS on the bare connection before any TDS packet."""
        self.tls = self.sock = context.wrap_socket(self.raw_sock, server_hostname=server_hostname)

    def stop_tls(self) -> None:
        """Back to the bare socket (after the LOGIN7 of login-only encryption)."""
        self.sock = self.raw_sock

    def batch(self, sql: str, packet_size: int | None = None, first_status: int = 0) -> None:
        self.send(SQL_BATCH, all_headers() + sql.encode("utf-16-le"), packet_size, first_status)

    def attention(self) -> None:
        self.send(ATTENTION, b"")

    def drop(self) -> None:
        """Close at once with a TCP reset, as a killed client would."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def final_done_status(response: bytes) -> int:
    """Status of the DONE token that ends a response (the last 13 bytes)."""
    assert response[-13] == DONE_TOKEN, f"response does not end with DONE: {response[-13:].hex()}"
    return struct.unpack_from("<H", response, len(response) - 12)[0]
