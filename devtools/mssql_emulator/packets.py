"""MS-TDS packets (2.2.3): the header, reading packets into messages, writing messages as packets.

Only framing: what a client message says is parsed in ``client_messages.py``, what the server
answers is built in ``tokens.py``. Section numbers refer to [MS-TDS] 7.4.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

# --- 2.2.3.1.1 Packet header: Type ------------------------------------------------------------
PKT_SQL_BATCH = 0x01
PKT_RPC = 0x03
PKT_TABULAR_RESULT = 0x04
PKT_ATTENTION = 0x06
PKT_BULK_LOAD = 0x07
PKT_TRANSACTION_MANAGER = 0x0E
PKT_LOGIN7 = 0x10
PKT_SSPI = 0x11
PKT_PRELOGIN = 0x12

# --- 2.2.3.1.2 Packet header: Status ----------------------------------------------------------
STATUS_EOM = 0x01  # last packet of the message
STATUS_IGNORE = 0x02  # client asks the server to drop this message
STATUS_RESET_CONNECTION = 0x08
STATUS_RESET_CONNECTION_SKIP_TRAN = 0x10

# --- 2.2.3.1 Packet header ---------------------------------------------------------------------
# Type (1), Status (1), Length (2, big-endian, header included), SPID (2, big-endian),
# PacketID (1, wraps at 255), Window (1, always 0).
HEADER = struct.Struct(">BBHHBB")
HEADER_SIZE = HEADER.size

MIN_PACKET_SIZE = 512
MAX_PACKET_SIZE = 32767
DEFAULT_PACKET_SIZE = 4096


class ProtocolError(Exception):
    """The client sent something that is not valid TDS; the connection is closed."""


class ConnectionClosed(Exception):
    """The peer closed the socket (cleanly or not)."""


@dataclass
class Message:
    """One client message, reassembled from its packets."""

    type: int
    status: int  # status of the last packet (EOM, IGNORE)
    payload: bytes
    first_status: int = 0  # of the first packet, the one RESETCONNECTION(SKIPTRAN) counts in


class PacketReader:
    """Reads packets from a socket and reassembles multi-packet messages (2.2.3).

    Reads ahead in large ``recv`` calls: a 650 KB INSERT arrives as ~160 packets of 4 KB, two
    system calls each if read packet by packet. Bytes read ahead wait in the buffer, so a
    caller polling the socket must look at ``buffered`` first.
    """

    RECV_BYTES = 256 * 1024

    def __init__(self, sock: socket.socket, max_packet_size: int = MAX_PACKET_SIZE):
        self.sock = sock
        self.max_packet_size = max_packet_size
        self._buffer = bytearray()

    @property
    def buffered(self) -> bool:
        """True when bytes already read from the socket (or decrypted by TLS) wait to be parsed."""
        return bool(self._buffer) or bool(getattr(self.sock, "pending", 0))

    def take_buffered(self) -> bytes:
        """Hand over the bytes read ahead (when the stream below changes, e.g. TLS starts)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _read_exact(self, n: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < n:
            chunk = self.sock.recv(max(self.RECV_BYTES, n - len(buffer)))
            if not chunk:
                raise ConnectionClosed()
            buffer += chunk
        data = bytes(buffer[:n])
        del buffer[:n]  # cheap: a bytearray drops its head without moving the rest
        return data

    def read_packet(self) -> tuple[int, int, bytes]:
        """One packet: (type, status, payload)."""
        ptype, status, length, _spid, _packet_id, _window = HEADER.unpack(self._read_exact(HEADER_SIZE))
        if length < HEADER_SIZE or length > self.max_packet_size:
            raise ProtocolError(f"invalid packet length {length}")
        return ptype, status, self._read_exact(length - HEADER_SIZE)

    def read_message(self) -> Message:
        """All packets up to EOM. An ATTENTION packet is a message of its own."""
        ptype, status, payload = self.read_packet()
        first_status = status
        parts = [payload]
        while not status & STATUS_EOM:
            next_type, status, payload = self.read_packet()
            if next_type == PKT_ATTENTION:
                # The client gave up on the message it was sending; it expects DONE_ATTN.
                return Message(PKT_ATTENTION, status, b"")
            if next_type != ptype:
                raise ProtocolError(f"packet type changed mid-message ({ptype} -> {next_type})")
            parts.append(payload)
        return Message(ptype, status, b"".join(parts), first_status)


class PacketWriter:
    """Splits an outgoing token stream into TABULAR_RESULT packets of the negotiated size.

    ``write`` only buffers; the caller decides when to send (``flush_full_packets``), so it can
    look for an ATTENTION between writes, and large result sets go out in big ``sendall`` calls
    while each packet stays within ``packet_size``.
    """

    def __init__(self, sock: socket.socket, packet_size: int = DEFAULT_PACKET_SIZE):
        self.sock = sock
        self.packet_size = packet_size
        self.spid = 0
        self._buffer = bytearray()
        self._packet_id = 1

    def write(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _send_packets(self, length: int, final: bool, packet_type: int = PKT_TABULAR_RESULT) -> None:
        """Frame and send the first ``length`` buffered bytes; EOM on the last packet if final."""
        body = self.packet_size - HEADER_SIZE
        view = memoryview(self._buffer)
        out = bytearray()
        pos = 0
        while True:
            n = min(body, length - pos)
            last = pos + n >= length
            out += HEADER.pack(
                packet_type,
                STATUS_EOM if last and final else 0,
                n + HEADER_SIZE,
                self.spid,
                self._packet_id,
                0,  # Window
            )
            out += view[pos : pos + n]
            self._packet_id = (self._packet_id + 1) & 0xFF
            pos += n
            if last:
                break
        view.release()
        del self._buffer[:pos]
        self.sock.sendall(out)

    def flush_full_packets(self) -> None:
        """Send every complete packet buffered so far (the message stays open)."""
        body = self.packet_size - HEADER_SIZE
        # Keep at least one byte back so the packet that ends the message is never empty.
        full = ((len(self._buffer) - 1) // body) * body
        if full > 0:
            self._send_packets(full, final=False)

    def flush_all_without_eom(self) -> None:
        """Send everything buffered, keeping the message open (before a pause or a close)."""
        if self._buffer:
            self._send_packets(len(self._buffer), final=False)

    def end_message(self, packet_type: int = PKT_TABULAR_RESULT) -> None:
        """Send everything buffered; the last packet carries EOM."""
        self._send_packets(len(self._buffer), final=True, packet_type=packet_type)
        self._packet_id = 1
