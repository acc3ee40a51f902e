"""TLS for TDS connections: the server certificate, and TLS records carried the two ways MS-TDS allows.

- TDS 7.x ([MS-TDS] 2.2.6.5 PRELOGIN, 3.3.5.1 and 3.3.5.2): after the PRELOGIN exchange the TLS
  handshake travels as the payload of PRELOGIN (0x12) packets in both directions; from then on
  TLS records flow on the bare TCP stream (the whole session, or only the LOGIN7 packet).
  ``accept_in_prelogin`` does the first part with ``ssl.MemoryBIO``; ``TlsChannel`` the second.
- TDS 8.0 strict ([MS-TDS] 2.1, "TDS 8.0"): the client starts TLS before any TDS byte, offering
  ALPN ``tds/8.0``; ``accept_direct`` answers it.

A socket-like ``TlsChannel`` (``recv``/``sendall``/``fileno``) lets the packet reader and writer
stay unaware of TLS.
"""

from __future__ import annotations

import logging
import pathlib
import socket
import ssl
import tempfile

from devtools import certificates
from devtools.mssql_emulator.packets import ConnectionClosed, PacketReader, ProtocolError

log = logging.getLogger("devtools.mssql_emulator")

RECV_BYTES = 256 * 1024
TLS_HANDSHAKE_RECORD = 0x16  # first byte of a TLS ClientHello record (RFC 8446 5.1)
TDS8_ALPN = "tds/8.0"
# SQL Server names the certificate it generates when none is configured this way
# (https://learn.microsoft.com/en-us/sql/database-engine/configure-windows/configure-sql-server-encryption).
SELF_SIGNED_COMMON_NAME = "SSL_Self_Signed_Fallback"


def generate_self_signed(directory: pathlib.Path) -> certificates.KeyPair:
    """A fresh key and self-signed certificate, as SQL Server makes at start-up when none is set.

    The loopback names let a client that checks host names accept it once told to trust it.
    """
    return certificates.self_signed_server_certificate(
        directory, SELF_SIGNED_COMMON_NAME, ["localhost", "127.0.0.1"]
    )


class ServerTls:
    """The server's certificate and the two TLS contexts built from it."""

    def __init__(self, cert_file: str | None = None, key_file: str | None = None):
        self._generated: tempfile.TemporaryDirectory | None = None
        if cert_file is None:
            if key_file is not None:
                raise ValueError("--tls-key needs --tls-cert")
            self._generated = tempfile.TemporaryDirectory(prefix="mssql-emulator-tls-")
            files = generate_self_signed(pathlib.Path(self._generated.name))
        else:
            files = certificates.KeyPair(pathlib.Path(cert_file), pathlib.Path(key_file or cert_file))
        self.files = files
        # TDS 7.x: TLS 1.2 at most. SQL Server offers TLS 1.3 only to TDS 8.0 clients
        # (https://learn.microsoft.com/en-us/sql/relational-databases/security/networking/tls-1-3),
        # and a 1.3 server would send session tickets after its last handshake packet, when the
        # client no longer reads PRELOGIN packets.
        self.prelogin_context = self._context(ssl.TLSVersion.TLSv1_2)
        self.strict_context = self._context(ssl.TLSVersion.TLSv1_3)
        self.strict_context.set_alpn_protocols([TDS8_ALPN])

    def _context(self, maximum: ssl.TLSVersion) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = maximum
        context.load_cert_chain(str(self.files.cert), str(self.files.key))
        return context

    def close(self) -> None:
        if self._generated is not None:
            self._generated.cleanup()
            self._generated = None


class TlsChannel:
    """TLS records on a TCP socket, offered as a socket: ``recv``, ``sendall``, ``fileno``.

    ``recv`` decrypts every complete record it has, so no readable data hides inside the TLS
    layer while the caller polls the raw socket; what is decrypted but not yet asked for is
    ``pending``.
    """

    def __init__(
        self,
        sock: socket.socket,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ):
        self.sock = sock
        self.tls = tls
        self._incoming = incoming
        self._outgoing = outgoing
        self._plain = bytearray()
        self._eof = False

    @property
    def pending(self) -> int:
        return len(self._plain)

    @property
    def version(self) -> str | None:
        return self.tls.version()

    def fileno(self) -> int:
        return self.sock.fileno()

    def feed(self, data: bytes) -> None:
        """Bytes already read from the socket that belong to the TLS stream."""
        if data:
            self._incoming.write(data)

    def _decrypt_available(self) -> None:
        while not self._eof:
            try:
                chunk = self.tls.read(RECV_BYTES)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self._eof = True
                break
            if not chunk:
                self._eof = True
                break
            self._plain += chunk
        self._flush()  # a key update or alert the read produced

    def recv(self, n: int) -> bytes:
        while not self._plain and not self._eof:
            self._decrypt_available()
            if self._plain or self._eof:
                break
            data = self.sock.recv(RECV_BYTES)
            if not data:
                self._eof = True
                break
            self._incoming.write(data)
        out = bytes(self._plain[:n])
        del self._plain[:n]
        return out

    def sendall(self, data) -> None:
        self.tls.write(data)
        self._flush()

    def _flush(self) -> None:
        if self._outgoing.pending:
            self.sock.sendall(self._outgoing.read())

    def close(self) -> None:
        self.sock.close()


def starts_with_tls(sock: socket.socket) -> bool:
    """True when the client's first byte opens a TLS handshake record (TDS 8.0), not PRELOGIN."""
    first = sock.recv(1, socket.MSG_PEEK)
    if not first:
        raise ConnectionClosed()
    return first[0] == TLS_HANDSHAKE_RECORD


def accept_direct(sock: socket.socket, context: ssl.SSLContext) -> TlsChannel:
    """TDS 8.0: the TLS handshake on the bare stream, before the client's PRELOGIN."""

    def receive() -> bytes:
        data = sock.recv(RECV_BYTES)
        if not data:
            raise ConnectionClosed()
        return data

    tls, incoming, outgoing = _handshake(context, sock.sendall, receive)
    return TlsChannel(sock, tls, incoming, outgoing)


def accept_in_prelogin(reader: PacketReader, send_prelogin, context: ssl.SSLContext) -> TlsChannel:
    """TDS 7.x: the TLS handshake wrapped in PRELOGIN packets (2.2.6.5).

    ``send_prelogin(payload)`` sends one PRELOGIN message: SQL Server answers the client's
    handshake packets with packet type 0x12 too (older go-mssqldb accepts nothing else).
    """

    def receive() -> bytes:
        packet_type, _status, payload = reader.read_packet()
        if packet_type != 0x12:
            raise ProtocolError(
                f"expected a PRELOGIN packet with TLS handshake data, got type {packet_type:#x}"
            )
        return payload

    tls, incoming, outgoing = _handshake(context, send_prelogin, receive)
    channel = TlsChannel(reader.sock, tls, incoming, outgoing)
    # The client's first TLS record (its LOGIN7) may already sit in the reader's read-ahead.
    channel.feed(reader.take_buffered())
    return channel


def _handshake(context: ssl.SSLContext, send, receive):
    """Run the server side of a TLS handshake over ``send(bytes)`` / ``receive() -> bytes``.

    The two TDS transports differ only there: the bare stream (TDS 8.0) or PRELOGIN packets (7.x).
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        if outgoing.pending:
            send(outgoing.read())
        incoming.write(receive())
    if outgoing.pending:
        send(outgoing.read())
    return tls, incoming, outgoing
