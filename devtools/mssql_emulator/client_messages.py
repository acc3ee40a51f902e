"""What clients send, parsed: PRELOGIN, LOGIN7, SQLBatch, RPC and transaction manager requests.

Each parser takes a reassembled message payload (``packets.Message.payload``) and returns plain
values; nothing here writes to a client. Section numbers refer to [MS-TDS] 7.4.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
import uuid
from dataclasses import dataclass, field

from devtools.mssql_emulator.packets import ProtocolError


# --- 2.2.5.3 ALL_HEADERS (prefix of SQLBatch, RPC and transaction manager requests) ---------
def skip_all_headers(payload: bytes, tds_version: int) -> int:
    """Offset just past ALL_HEADERS (TDS 7.2+): TotalLength (4) includes itself."""
    if tds_version < 0x72000000 or len(payload) < 4:
        return 0
    (total,) = struct.unpack_from("<I", payload, 0)
    # Pre-7.2 style batches have no headers; a plausible header block has 4 <= total <= len.
    if total < 4 or total > len(payload):
        return 0
    return total


# --- 2.2.6.5 PRELOGIN ---------------------------------------------------------------------------
PL_VERSION = 0x00  # UL_VERSION (4, big-endian) + US_SUBBUILD (2)
PL_ENCRYPTION = 0x01  # 1 byte: ENCRYPT_OFF 0, ON 1, NOT_SUP 2, REQ 3
PL_INSTOPT = 0x02  # NUL-terminated instance name
PL_THREADID = 0x03  # client thread id (4)
PL_MARS = 0x04  # 1 byte: MARS on/off
PL_TRACEID = 0x05  # 36 bytes of activity id
PL_FEDAUTHREQUIRED = 0x06
PL_NONCEOPT = 0x07
PL_TERMINATOR = 0xFF

ENCRYPT_OFF = 0x00
ENCRYPT_ON = 0x01
ENCRYPT_NOT_SUP = 0x02
ENCRYPT_REQ = 0x03


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    """Option token -> option data. Each option: Token (1), Offset (2 BE), Length (2 BE)."""
    options: dict[int, bytes] = {}
    pos = 0
    while pos < len(payload) and payload[pos] != PL_TERMINATOR:
        if pos + 5 > len(payload):
            raise ProtocolError("truncated PRELOGIN option list")
        token, offset, length = struct.unpack_from(">BHH", payload, pos)
        if offset + length > len(payload):
            raise ProtocolError("PRELOGIN option outside the message")
        options[token] = payload[offset : offset + length]
        pos += 5
    return options


# --- 2.2.6.4 LOGIN7 -----------------------------------------------------------------------------
_LOGIN7_FIXED = struct.Struct(
    "<I"  # Length: whole LOGIN7 record
    "I"  # TDSVersion: highest version the client speaks, e.g. 0x74000004
    "I"  # PacketSize: requested packet size (0 = server default)
    "I"  # ClientProgVer
    "I"  # ClientPID
    "I"  # ConnectionID
    "B"  # OptionFlags1: byte order, char set, float format, dump/load, use db, init db, lang
    "B"  # OptionFlags2: init lang, ODBC, user type, fIntSecurity (0x80) = SSPI login
    "B"  # TypeFlags: SQL type, read-only intent
    "B"  # OptionFlags3: change password, unknown collation handling, extension
    "i"  # ClientTimZone (minutes)
    "I"  # ClientLCID
)
# OffsetLength block: (offset, length) pairs, lengths in characters (bytes for SSPI/extension).
_LOGIN7_FIELDS = (
    "host_name",
    "user_name",
    "password",
    "app_name",
    "server_name",
    "extension",
    "library_name",
    "language",
    "database",
)
OPTION_FLAGS2_INTEGRATED_SECURITY = 0x80


@dataclass
class Login7:
    tds_version: int
    packet_size: int
    client_pid: int
    option_flags2: int
    host_name: str = ""
    user_name: str = ""
    password: str = ""
    app_name: str = ""
    server_name: str = ""
    library_name: str = ""
    language: str = ""
    database: str = ""
    sspi: bytes = b""
    raw_fields: dict = field(default_factory=dict, repr=False)

    @property
    def integrated_security(self) -> bool:
        return bool(self.option_flags2 & OPTION_FLAGS2_INTEGRATED_SECURITY)

    def __repr__(self) -> str:  # never show the password
        return (
            f"Login7(tds_version={self.tds_version:#x}, packet_size={self.packet_size}, "
            f"user={self.user_name!r}, database={self.database!r}, app={self.app_name!r}, "
            f"library={self.library_name!r}, host={self.host_name!r})"
        )


def decode_password(obfuscated: bytes) -> str:
    """2.2.6.4: each byte of the UTF-16LE password had its nibbles swapped, then XOR 0xA5."""
    plain = bytes((((b ^ 0xA5) << 4) & 0xF0) | ((b ^ 0xA5) >> 4) for b in obfuscated)
    return plain.decode("utf-16-le")


def parse_login7(payload: bytes) -> Login7:
    if len(payload) < _LOGIN7_FIXED.size + 4 * len(_LOGIN7_FIELDS):
        raise ProtocolError("LOGIN7 record too short")
    (
        _length,
        tds_version,
        packet_size,
        _prog_ver,
        client_pid,
        _conn_id,
        _flags1,
        flags2,
        _type_flags,
        _flags3,
        _tz,
        _lcid,
    ) = _LOGIN7_FIXED.unpack_from(payload, 0)
    login = Login7(
        tds_version=tds_version,
        packet_size=packet_size,
        client_pid=client_pid,
        option_flags2=flags2,
    )
    pos = _LOGIN7_FIXED.size
    for name in _LOGIN7_FIELDS:
        offset, length = struct.unpack_from("<HH", payload, pos)
        pos += 4
        if name == "extension":
            continue  # feature extensions (fedauth, UTF-8...) are not offered back
        raw = payload[offset : offset + 2 * length]
        if len(raw) != 2 * length:
            raise ProtocolError(f"LOGIN7 field {name} outside the record")
        if name == "password":
            setattr(login, name, decode_password(raw))
        else:
            setattr(login, name, raw.decode("utf-16-le", errors="replace"))
    pos += 6  # ClientID: MAC address
    if pos + 4 <= len(payload):
        sspi_offset, sspi_length = struct.unpack_from("<HH", payload, pos)
        login.sspi = payload[sspi_offset : sspi_offset + sspi_length]
    return login


# --- 2.2.6.7 SQLBatch ---------------------------------------------------------------------------
def parse_sql_batch(payload: bytes, tds_version: int) -> str:
    """ALL_HEADERS (7.2+), then the batch text in UTF-16LE."""
    start = skip_all_headers(payload, tds_version)
    return payload[start:].decode("utf-16-le", errors="replace")


# --- 2.2.6.9 Transaction Manager Request --------------------------------------------------------
TM_BEGIN_XACT = 5
TM_COMMIT_XACT = 7
TM_ROLLBACK_XACT = 8
TM_SAVE_XACT = 9


@dataclass
class TransactionRequest:
    request_type: int  # TM_* above
    begin_new: bool  # commit/rollback with fBeginXact: start a new transaction afterwards
    isolation_level: int = 0  # of the transaction begun: 0 no change, 1-5 read uncommitted..snapshot


def parse_transaction_request(payload: bytes, tds_version: int) -> TransactionRequest:
    pos = skip_all_headers(payload, tds_version)
    (request_type,) = struct.unpack_from("<H", payload, pos)
    begin_new = False
    isolation = 0
    if request_type == TM_BEGIN_XACT and len(payload) > pos + 2:
        isolation = payload[pos + 2]  # RequestPayload: IsolationLevel (1), then XactName
    if request_type in (TM_COMMIT_XACT, TM_ROLLBACK_XACT) and len(payload) >= pos + 4:
        # RequestPayload: XactName (B_VARCHAR), then XactFlags (1): bit 0 fBeginXact, then with
        # it the new transaction's IsolationLevel (1) and XactName
        name_len = payload[pos + 2]
        flags_pos = pos + 3 + 2 * name_len
        if flags_pos < len(payload):
            begin_new = bool(payload[flags_pos] & 0x01)
        if begin_new and flags_pos + 1 < len(payload):
            isolation = payload[flags_pos + 1]
    return TransactionRequest(request_type, begin_new, isolation)


# --- 2.2.6.6 RPC Request ------------------------------------------------------------------------
# ProcIDs of well-known procedures sent as ProcIDSwitch 0xFFFF + USHORT id.
RPC_PROC_IDS = {
    1: "sp_cursor",
    2: "sp_cursoropen",
    3: "sp_cursorprepare",
    4: "sp_cursorexecute",
    5: "sp_cursorprepexec",
    6: "sp_cursorunprepare",
    7: "sp_cursorfetch",
    8: "sp_cursoroption",
    9: "sp_cursorclose",
    10: "sp_executesql",
    11: "sp_prepare",
    12: "sp_execute",
    13: "sp_prepexec",
    14: "sp_prepexecrpc",
    15: "sp_unprepare",
}


@dataclass
class RpcParameter:
    name: str  # with its leading @, may be empty for positional parameters
    value: object  # decoded Python value (None for NULL)
    sql_type: str  # type as T-SQL spells it, for diagnostics


@dataclass
class RpcRequest:
    proc_name: str
    parameters: list[RpcParameter]


class _Cursor:
    def __init__(self, data: bytes, pos: int):
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError("RPC request truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        s = struct.Struct(fmt)
        values = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return values

    def byte(self) -> int:
        return self.unpack("<B")[0]

    def b_varchar(self) -> str:
        n = self.byte()
        return self.take(2 * n).decode("utf-16-le")


def parse_rpc_request(payload: bytes, tds_version: int) -> RpcRequest:
    """Only the first RPC of a batch of RPCs is read (no client this emulator serves sends more)."""
    c = _Cursor(payload, skip_all_headers(payload, tds_version))
    (name_len,) = c.unpack("<H")
    if name_len == 0xFFFF:  # ProcIDSwitch
        (proc_id,) = c.unpack("<H")
        proc_name = RPC_PROC_IDS.get(proc_id, f"proc_id_{proc_id}")
    else:
        proc_name = c.take(2 * name_len).decode("utf-16-le")
    c.unpack("<H")  # OptionFlags: fWithRecomp, fNoMetaData, fReuseMetaData
    parameters = []
    while c.pos < len(payload):
        if payload[c.pos] in (
            0x80,
            0xFF,
            0xFE,
        ):  # BatchFlag / NoExecFlag: next RPC follows
            break
        name = c.b_varchar()
        c.byte()  # StatusFlags: fByRefValue (output), fDefaultValue, fEncrypted
        sql_type, value = _read_typed_value(c)
        parameters.append(RpcParameter(name, value, sql_type))
    return RpcRequest(proc_name, parameters)


def _read_collation(c: _Cursor) -> None:
    c.take(5)


def _read_plp(c: _Cursor) -> bytes | None:
    (total,) = c.unpack("<Q")
    if total == 0xFFFFFFFFFFFFFFFF:
        return None
    parts = []
    while True:
        (chunk_len,) = c.unpack("<I")
        if chunk_len == 0:
            return b"".join(parts)
        parts.append(c.take(chunk_len))


def _time_from_units(units: int, scale: int) -> tuple[dt.time, int]:
    ticks_100ns = units * 10 ** (7 - scale)
    seconds, rest = divmod(ticks_100ns, 10_000_000)
    micro, ticks = divmod(rest, 10)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return dt.time(h, m, s, micro), ticks


_TIME_LEN = {0: 3, 1: 3, 2: 3, 3: 4, 4: 4, 5: 5, 6: 5, 7: 5}
_DATE_ZERO = dt.date(1, 1, 1).toordinal()


def _read_typed_value(c: _Cursor) -> tuple[str, object]:
    """TYPE_INFO (2.2.5.6) then TYPE_VARBYTE (2.2.5.2.3) for the parameter types clients send."""
    t = c.byte()
    if t in (0x26, 0x68, 0x6D, 0x6E, 0x6F):  # INTN, BITN, FLTN, MONEYN, DATETIMN
        size = c.byte()
        n = c.byte()
        if n == 0:
            return {
                0x26: "int",
                0x68: "bit",
                0x6D: "float",
                0x6E: "money",
                0x6F: "datetime",
            }[t], None
        raw = c.take(n)
        if t == 0x26:
            return "bigint" if size == 8 else "int", int.from_bytes(raw, "little", signed=n > 1)
        if t == 0x68:
            return "bit", raw != b"\x00"
        if t == 0x6D:
            return "float", struct.unpack("<d" if n == 8 else "<f", raw)[0]
        if t == 0x6E:
            if n == 8:
                hi, lo = struct.unpack("<iI", raw)
                units = (hi << 32) | lo
            else:
                (units,) = struct.unpack("<i", raw)
            return "money", decimal.Decimal(units).scaleb(-4)
        if n == 8:
            days, ticks = struct.unpack("<iI", raw)
            base = dt.datetime(1900, 1, 1) + dt.timedelta(days=days)
            return "datetime", base + dt.timedelta(microseconds=round(ticks * 10000 / 3))
        days, minutes = struct.unpack("<HH", raw)
        return "smalldatetime", dt.datetime(1900, 1, 1) + dt.timedelta(days=days, minutes=minutes)
    if t in (0x30, 0x34, 0x38, 0x7F, 0x32):  # fixed INT1/INT2/INT4/INT8/BIT
        size = {0x30: 1, 0x34: 2, 0x38: 4, 0x7F: 8, 0x32: 1}[t]
        raw = c.take(size)
        if t == 0x32:
            return "bit", raw != b"\x00"
        return "int", int.from_bytes(raw, "little", signed=t != 0x30)
    if t in (0x6A, 0x6C):  # DECIMALN, NUMERICN
        c.byte()
        precision, scale = c.byte(), c.byte()
        n = c.byte()
        if n == 0:
            return f"decimal({precision},{scale})", None
        raw = c.take(n)
        magnitude = int.from_bytes(raw[1:], "little")
        # 38 digits: the default context (28) would round a decimal(38) parameter
        value = decimal.Decimal(magnitude if raw[0] else -magnitude).scaleb(-scale, decimal.Context(prec=38))
        return f"decimal({precision},{scale})", value
    if t == 0x24:  # GUIDTYPE
        c.byte()
        n = c.byte()
        return "uniqueidentifier", None if n == 0 else uuid.UUID(bytes_le=c.take(n))
    if t in (0xE7, 0xEF, 0xA7, 0xAF, 0xA5, 0xAD):  # N/VAR/CHAR, VARBINARY, BINARY
        (max_len,) = c.unpack("<H")
        if t in (0xE7, 0xEF, 0xA7, 0xAF):
            _read_collation(c)
        if max_len == 0xFFFF:
            raw = _read_plp(c)
        else:
            (n,) = c.unpack("<H")
            raw = None if n == 0xFFFF else c.take(n)
        name = {
            0xE7: "nvarchar",
            0xEF: "nchar",
            0xA7: "varchar",
            0xAF: "char",
            0xA5: "varbinary",
            0xAD: "binary",
        }[t]
        if raw is None:
            return name, None
        if t in (0xE7, 0xEF):
            return name, raw.decode("utf-16-le")
        if t in (0xA7, 0xAF):
            return name, raw.decode("cp1252", errors="replace")
        return name, raw
    if t in (0x63, 0x23, 0x22):  # NTEXT, TEXT, IMAGE
        c.unpack("<I")
        if t != 0x22:
            _read_collation(c)
        n_parts = c.byte()
        for _ in range(n_parts):
            c.take(2 * c.unpack("<H")[0])
        tp_len = c.byte()
        if tp_len == 0:
            return "ntext", None
        c.take(tp_len + 8)  # TextPointer, Timestamp
        (n,) = c.unpack("<I")
        raw = c.take(n)
        if t == 0x63:
            return "ntext", raw.decode("utf-16-le")
        return ("text", raw.decode("cp1252")) if t == 0x23 else ("image", raw)
    if t == 0x28:  # DATENTYPE
        n = c.byte()
        if n == 0:
            return "date", None
        days = int.from_bytes(c.take(3), "little")
        return "date", dt.date.fromordinal(days + _DATE_ZERO)
    if t in (0x29, 0x2A, 0x2B):  # TIMENTYPE, DATETIME2NTYPE, DATETIMEOFFSETNTYPE
        scale = c.byte()
        n = c.byte()
        name = {0x29: "time", 0x2A: "datetime2", 0x2B: "datetimeoffset"}[t]
        if n == 0:
            return name, None
        time_len = _TIME_LEN[scale]
        units = int.from_bytes(c.take(time_len), "little")
        time_value, _ticks = _time_from_units(units, scale)
        if t == 0x29:
            return name, time_value
        days = int.from_bytes(c.take(3), "little")
        value = dt.datetime.combine(dt.date.fromordinal(days + _DATE_ZERO), time_value)
        if t == 0x2B:
            (offset,) = c.unpack("<h")
            tz = dt.timezone(dt.timedelta(minutes=offset))
            value = (value.replace(tzinfo=dt.UTC)).astimezone(tz)
        return name, value
    raise ProtocolError(f"RPC parameter type 0x{t:02X} is not supported by the emulator")
