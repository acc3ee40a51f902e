"""What the server sends in TABULAR_RESULT packets: the PRELOGIN answer, response tokens and the
per-column value encoders.

Each token builder returns the bytes of one token. Column encoding is compiled once per result set:
``compile_columns`` turns the declared ``Column`` types into a COLMETADATA token and a list of
encoder functions, so encoding a row never dispatches on type per value.
Section numbers refer to [MS-TDS] 7.4.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from devtools.mssql_emulator.client_messages import (
    PL_ENCRYPTION,
    PL_INSTOPT,
    PL_MARS,
    PL_TERMINATOR,
    PL_THREADID,
    PL_VERSION,
)
from devtools.mssql_emulator.results import Column, DateTime2, SqlServerError, Time7

TDS72 = 0x72090002
TDS73A = 0x730A0003
TDS74 = 0x74000004

# Collation SQL_Latin1_General_CP1_CI_AS (2.2.5.1.2): LCID 0x0409 + flags (CI, AI-off, KI, WI)
# in 4 bytes, then SortId 52.
COLLATION = bytes.fromhex("0904d00034")


# --- 2.2.6.5 PRELOGIN: the server's answer -------------------------------------------------------
def prelogin_response(version: tuple[int, int, int], encryption: int) -> bytes:
    """The server's PRELOGIN answer: version, encryption, instance ok, no thread id, no MARS."""
    major, minor, build = version
    options = [
        (PL_VERSION, struct.pack(">BBHH", major, minor, build, 0)),
        (PL_ENCRYPTION, bytes([encryption])),
        (PL_INSTOPT, b"\x00"),  # 0 = the instance name the client sent matches
        (PL_THREADID, b""),
        (PL_MARS, b"\x00"),  # MARS not offered: one request at a time per connection
    ]
    offset = len(options) * 5 + 1
    head, data = bytearray(), bytearray()
    for token, value in options:
        head += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    head.append(PL_TERMINATOR)
    return bytes(head + data)


# --- 2.2.7.8 ENVCHANGE --------------------------------------------------------------------------
TOKEN_ENVCHANGE = 0xE3
ENV_DATABASE = 1
ENV_LANGUAGE = 2
ENV_PACKET_SIZE = 4
ENV_SQL_COLLATION = 7
ENV_BEGIN_TRAN = 8
ENV_COMMIT_TRAN = 9
ENV_ROLLBACK_TRAN = 10
ENV_RESET_CONNECTION_ACK = 18


def _b_varchar(text: str) -> bytes:
    """B_VARCHAR: length in characters (1 byte), UTF-16LE."""
    data = text.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def _us_varchar(text: str) -> bytes:
    """US_VARCHAR: length in characters (2 bytes), UTF-16LE."""
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def _envchange(env_type: int, new: bytes, old: bytes) -> bytes:
    # Length (2), Type (1), NewValue, OldValue
    body = bytes([env_type]) + new + old
    return struct.pack("<BH", TOKEN_ENVCHANGE, len(body)) + body


def envchange_text(env_type: int, new: str, old: str) -> bytes:
    """Database, language, packet size: both values B_VARCHAR."""
    return _envchange(env_type, _b_varchar(new), _b_varchar(old))


def envchange_reset_ack() -> bytes:
    """Type 18, the acknowledgement of a RESETCONNECTION request: both values empty B_VARBYTEs."""
    return _envchange(ENV_RESET_CONNECTION_ACK, b"\x00", b"\x00")


def envchange_collation(collation: bytes = COLLATION) -> bytes:
    """SQL collation: new value B_VARBYTE (5 bytes), old value empty."""
    return _envchange(ENV_SQL_COLLATION, bytes([len(collation)]) + collation, b"\x00")


def envchange_transaction(env_type: int, descriptor: bytes) -> bytes:
    """Begin: new = 8-byte transaction descriptor, old empty. Commit/rollback: the reverse."""
    value = bytes([len(descriptor)]) + descriptor
    if env_type == ENV_BEGIN_TRAN:
        return _envchange(env_type, value, b"\x00")
    return _envchange(env_type, b"\x00", value)


# --- 2.2.7.13 LOGINACK --------------------------------------------------------------------------
TOKEN_LOGINACK = 0xAD


def loginack(tds_version: int, program: str, version: tuple[int, int, int]) -> bytes:
    major, minor, build = version
    body = (
        b"\x01"  # Interface: 1 = SQL_TSQL
        + struct.pack(">I", tds_version)  # TDSVersion, big-endian on the wire
        + _b_varchar(program)  # ProgName
        + struct.pack(">BBH", major, minor, build)
    )  # ProgVersion: major, minor, build
    return struct.pack("<BH", TOKEN_LOGINACK, len(body)) + body


# --- 2.2.7.10 INFO and 2.2.7.9 ERROR ------------------------------------------------------------
TOKEN_ERROR = 0xAA
TOKEN_INFO = 0xAB


def _message(
    token: int,
    number: int,
    state: int,
    severity: int,
    text: str,
    server: str,
    proc: str = "",
    line: int = 1,
) -> bytes:
    body = (
        struct.pack("<iBB", number, state, severity)  # Number, State, Class
        + _us_varchar(text)  # MsgText
        + _b_varchar(server)  # ServerName
        + _b_varchar(proc)  # ProcName
        + struct.pack("<i", line)
    )  # LineNumber (4 bytes since TDS 7.2)
    return struct.pack("<BH", token, len(body)) + body


def info(
    number: int,
    text: str,
    server: str,
    state: int = 1,
    severity: int = 0,
    line: int = 1,
) -> bytes:
    return _message(TOKEN_INFO, number, state, severity, text, server, line=line)


def error(err: SqlServerError, server: str, proc: str = "") -> bytes:
    return _message(
        TOKEN_ERROR,
        err.number,
        err.state,
        err.severity,
        err.message,
        server,
        proc,
        err.line,
    )


# --- 2.2.7.5 DONE, 2.2.7.7 DONEPROC, 2.2.7.6 DONEINPROC ----------------------------------------
TOKEN_DONE = 0xFD
TOKEN_DONEPROC = 0xFE
TOKEN_DONEINPROC = 0xFF
DONE_FINAL = 0x00
DONE_MORE = 0x01  # more results follow in this response
DONE_ERROR = 0x02  # the statement failed
DONE_INXACT = 0x04
DONE_COUNT = 0x10  # DoneRowCount is valid
DONE_ATTN = 0x20  # acknowledges an ATTENTION
DONE_SRVERROR = 0x100

# CurCmd values SQL Server reports (the token of the statement's command)
CMD_SELECT = 0xC1
CMD_INSERT = 0xC3
CMD_DELETE = 0xC4
CMD_UPDATE = 0xC5
CMD_EXECUTE = 0xE0

_DONE = struct.Struct("<BHHQ")  # TokenType, Status (2), CurCmd (2), DoneRowCount (8, TDS 7.2+)


def done(
    status: int = DONE_FINAL,
    cur_cmd: int = 0,
    row_count: int = 0,
    token: int = TOKEN_DONE,
) -> bytes:
    return _DONE.pack(token, status, cur_cmd, row_count)


def pre_72_login_refusal(err: SqlServerError, server: str) -> bytes:
    """ERROR then DONE in the TDS 7.0/7.1 layout (2-byte LineNumber, 4-byte DoneRowCount).

    The emulator speaks TDS 7.2 to 7.4 only; older clients get this one readable refusal.
    """
    body = (
        struct.pack("<iBB", err.number, err.state, err.severity)
        + _us_varchar(err.message)
        + _b_varchar(server)
        + _b_varchar("")
        + struct.pack("<H", err.line)
    )
    return (
        struct.pack("<BH", TOKEN_ERROR, len(body)) + body + struct.pack("<BHHI", TOKEN_DONE, DONE_ERROR, 0, 0)
    )


# --- 2.2.7.18 RETURNSTATUS ----------------------------------------------------------------------
TOKEN_RETURNSTATUS = 0x79


def return_status(value: int = 0) -> bytes:
    return struct.pack("<Bi", TOKEN_RETURNSTATUS, value)


# --- 2.2.7.4 COLMETADATA, 2.2.7.19 ROW, 2.2.7.15 NBCROW -----------------------------------------
TOKEN_COLMETADATA = 0x81
TOKEN_ROW = 0xD1
TOKEN_NBCROW = 0xD2

# Column flags (2 bytes): fNullable 0x0001; usUpdateable 0x0008 = "unknown"
FLAG_NULLABLE = 0x0001
FLAG_UPDATEABLE_UNKNOWN = 0x0008

# Data type ids (2.2.5.4)
INTNTYPE = 0x26
BITNTYPE = 0x68
FLTNTYPE = 0x6D
MONEYNTYPE = 0x6E
DATETIMNTYPE = 0x6F
DECIMALNTYPE = 0x6A
NUMERICNTYPE = 0x6C
GUIDTYPE = 0x24
DATENTYPE = 0x28
TIMENTYPE = 0x29
DATETIME2NTYPE = 0x2A
DATETIMEOFFSETNTYPE = 0x2B
IMAGETYPE = 0x22
TEXTTYPE = 0x23
NTEXTTYPE = 0x63
BIGVARBINTYPE = 0xA5
BIGVARCHRTYPE = 0xA7
BIGBINARYTYPE = 0xAD
BIGCHARTYPE = 0xAF
NVARCHARTYPE = 0xE7
NCHARTYPE = 0xEF

PLP_NULL = b"\xff" * 8
PLP_CHUNK = 8000  # bytes per PLP chunk (even, so UTF-16 code units never straddle chunks)
_NULL_USHORT = b"\xff\xff"
_NULL_BYTELEN = b"\x00"

Encoder = Callable[[object], bytes]


@dataclass
class CompiledColumns:
    """What a result set needs to be encoded: its COLMETADATA token and one encoder per column."""

    colmetadata: bytes
    encoders: list[Encoder]  # for non-NULL values only
    null_encodings: list[bytes]  # each column's NULL in a ROW token (before TDS 7.3, no NBCROW)


def _plp(data: bytes) -> bytes:
    """2.2.5.2.3 PLP: total length (8), chunks of (length (4), data), terminator (4 zero bytes)."""
    n = len(data)
    if n <= PLP_CHUNK:
        if n == 0:
            return b"\x00" * 12
        return struct.pack("<QI", n, n) + data + b"\x00\x00\x00\x00"
    parts = [struct.pack("<Q", n)]
    for start in range(0, n, PLP_CHUNK):
        chunk = data[start : start + PLP_CHUNK]
        parts.append(struct.pack("<I", len(chunk)))
        parts.append(chunk)
    parts.append(b"\x00\x00\x00\x00")
    return b"".join(parts)


# --- 2.2.5.4.2 variable-length types: TYPE_INFO (type, max length); values (2.2.5.5.1)
# with a length byte, 0 meaning NULL. Integers, bit, floats and money travel as INTN,
# BITN, FLTN and MONEYN (money: high 4 bytes then low 4 bytes of the value in 1/10,000).
_INT_FORMATS = {
    "tinyint": (1, "<B"),
    "smallint": (2, "<h"),
    "int": (4, "<i"),
    "bigint": (8, "<q"),
}


def _int_encoder(sql_type: str) -> tuple[bytes, Encoder]:
    size, fmt = _INT_FORMATS[sql_type]
    pack = struct.Struct("<B" + fmt[1:]).pack

    def encode(value, pack=pack, size=size):
        try:
            return pack(size, value)
        except struct.error:
            raise SqlServerError(
                8115,
                f"Arithmetic overflow error converting expression to data type {sql_type}.",
                16,
                2,
            ) from None

    return bytes([INTNTYPE, size]), encode


def _bit_encoder() -> tuple[bytes, Encoder]:
    true, false = b"\x01\x01", b"\x01\x00"
    return bytes([BITNTYPE, 1]), lambda value: true if value else false


def _float_encoder(size: int) -> tuple[bytes, Encoder]:
    pack = struct.Struct("<Bd" if size == 8 else "<Bf").pack
    return bytes([FLTNTYPE, size]), lambda value: pack(size, value)


_DECIMAL_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP)


def _to_decimal(value) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        return decimal.Decimal(repr(value))  # the shortest decimal that round-trips
    return decimal.Decimal(value)


def _scaled_integer(value, scale: int) -> int:
    """value * 10**scale as an exact integer, rounded half away from zero like SQL Server."""
    d = value if type(value) is decimal.Decimal else _to_decimal(value)
    try:
        return int(
            d.scaleb(scale, _DECIMAL_CONTEXT).to_integral_value(decimal.ROUND_HALF_UP, _DECIMAL_CONTEXT)
        )
    except (ValueError, OverflowError):  # NaN, Infinity
        raise SqlServerError(
            8115, "Arithmetic overflow error converting numeric to data type numeric.", 16, 2
        ) from None


def _money_encoder(size: int) -> tuple[bytes, Encoder]:
    def encode(value):
        units = _scaled_integer(value, 4)
        if size == 4:
            return struct.pack("<Bi", 4, units)
        return struct.pack("<BiI", 8, units >> 32, units & 0xFFFFFFFF)

    return bytes([MONEYNTYPE, size]), encode


def decimal_length(precision: int) -> int:
    """Bytes of a decimal value (sign byte included) for its precision (2.2.5.5.1.7)."""
    if precision <= 9:
        return 5
    if precision <= 19:
        return 9
    if precision <= 28:
        return 13
    return 17


def _decimal_encoder(type_id: int, precision: int, scale: int) -> tuple[bytes, Encoder]:
    """2.2.5.5.1.7 DECIMALN/NUMERICN: sign byte (1 = positive), then the unscaled integer LE."""
    length = decimal_length(precision)
    magnitude_len = length - 1
    limit = 10**precision
    prefix_pos, prefix_neg = bytes([length, 1]), bytes([length, 0])

    def encode(value):
        n = _scaled_integer(value, scale)
        if n >= limit or -n >= limit:
            raise SqlServerError(
                8115,
                "Arithmetic overflow error converting numeric to data type numeric.",
                16,
                2,
            )
        if n >= 0:
            return prefix_pos + n.to_bytes(magnitude_len, "little")
        return prefix_neg + (-n).to_bytes(magnitude_len, "little")

    # TYPE_INFO: type, length, precision, scale
    return bytes([type_id, length, precision, scale]), encode


# --- 2.2.5.5.1.8 date and time: DATE (3 bytes of days since 0001-01-01), TIME(n) (3 to 5
# bytes of 10^-n s since midnight), DATETIME2(n) (time then date), DATETIMEOFFSET(n) (UTC
# time and date, then the offset in minutes); DATETIME (2.2.5.5.1.9): days since 1900-01-01
# and 1/300 s ticks. 2.2.5.5.1.10 GUID.
_DAY_ZERO = dt.date(1, 1, 1).toordinal()
_DATETIME_ZERO = dt.date(1900, 1, 1).toordinal()
_TIME_LENGTHS = (3, 3, 3, 4, 4, 5, 5, 5)


def _ticks_of_day(value) -> int:
    """100 ns units since midnight of a time/datetime/DateTime2/Time7."""
    extra = 0
    if isinstance(value, (DateTime2, Time7)):
        extra = value.ticks
        value = value.value
    return (
        (value.hour * 3600 + value.minute * 60 + value.second) * 10_000_000 + value.microsecond * 10 + extra
    )


def _date_of(value) -> dt.date:
    if isinstance(value, DateTime2):
        value = value.value
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _time_encoder(scale: int) -> tuple[bytes, Encoder]:
    time_len = _TIME_LENGTHS[scale]
    divisor = 10 ** (7 - scale)
    prefix = bytes([time_len])

    def encode(value):
        return prefix + (_ticks_of_day(value) // divisor).to_bytes(time_len, "little")

    return bytes([TIMENTYPE, scale]), encode


def _date_encoder() -> tuple[bytes, Encoder]:
    def encode(value):
        return b"\x03" + (_date_of(value).toordinal() - _DAY_ZERO).to_bytes(3, "little")

    return bytes([DATENTYPE]), encode


def _datetime2_encoder(scale: int) -> tuple[bytes, Encoder]:
    time_len = _TIME_LENGTHS[scale]
    divisor = 10 ** (7 - scale)
    prefix = bytes([time_len + 3])

    def encode(value):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        units = _ticks_of_day(value) // divisor
        days = _date_of(value).toordinal() - _DAY_ZERO
        return prefix + units.to_bytes(time_len, "little") + days.to_bytes(3, "little")

    return bytes([DATETIME2NTYPE, scale]), encode


def _datetimeoffset_encoder(scale: int) -> tuple[bytes, Encoder]:
    """Stored as the UTC date and time, then the offset in minutes (2.2.5.5.1.8)."""
    time_len = _TIME_LENGTHS[scale]
    divisor = 10 ** (7 - scale)
    prefix = bytes([time_len + 5])

    def encode(value):
        ticks = 0
        if isinstance(value, DateTime2):
            value, ticks = value.value, value.ticks
        offset = value.utcoffset() or dt.timedelta(0)
        utc = value.replace(tzinfo=None) - offset
        units = (_ticks_of_day(utc) + ticks) // divisor
        days = utc.toordinal() - _DAY_ZERO
        return (
            prefix
            + units.to_bytes(time_len, "little")
            + days.to_bytes(3, "little")
            + struct.pack("<h", int(offset.total_seconds()) // 60)
        )

    return bytes([DATETIMEOFFSETNTYPE, scale]), encode


def _datetime_encoder(size: int) -> tuple[bytes, Encoder]:
    """datetime: days since 1900-01-01 (4) + 1/300 s ticks (4); smalldatetime: days + minutes."""

    def encode(value):
        if isinstance(value, DateTime2):
            value = value.value
        if not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        days = value.toordinal() - _DATETIME_ZERO
        micro = (value.hour * 3600 + value.minute * 60 + value.second) * 1_000_000 + value.microsecond
        if size == 4:
            minutes = (micro + 30_000_000) // 60_000_000
            return struct.pack("<BHH", 4, days, minutes)
        ticks = (micro * 3 + 5_000) // 10_000  # to 1/300 s, rounded to nearest
        if ticks >= 300 * 86400:
            days, ticks = days + 1, ticks - 300 * 86400
        return struct.pack("<BiI", 8, days, ticks)

    return bytes([DATETIMNTYPE, size]), encode


def _guid_encoder() -> tuple[bytes, Encoder]:
    def encode(value):
        if not isinstance(value, uuid.UUID):
            value = uuid.UUID(str(value))
        return b"\x10" + value.bytes_le  # mixed-endian: first three groups little-endian

    return bytes([GUIDTYPE, 16]), encode


# --- 2.2.5.4.3 / 2.2.5.5.1.5 strings and binary: USHORTLEN max length (+ collation for
# characters); values with a 2-byte length (0xFFFF = NULL), or PLP (2.2.5.2.3) for (max).
def _to_bytes(codec: str) -> Callable[[object], bytes]:
    if codec == "binary":
        return bytes
    if codec == "utf-16-le":
        return lambda value: value.encode("utf-16-le", errors="surrogatepass")
    # SQL Server stores characters outside the code page as '?'
    return lambda value: value.encode(codec, errors="replace")


def _cut(to_bytes: Callable[[object], bytes], limit: int | None, unicode: bool):
    """``to_bytes`` cut at the session's TEXTSIZE (``textsize.py``), in whole UTF-16 code units."""
    if limit is None:
        return to_bytes
    if unicode:
        limit -= limit % 2
    return lambda value: to_bytes(value)[:limit]


def _text_encoder(
    type_id: int, length: int | None, codec: str, collated: bool, limit: int | None = None
) -> tuple[bytes, Encoder, bytes]:
    """N/VAR/CHAR and VARBINARY: USHORTLEN values, or PLP when declared (max).

    ``limit`` is the session's TEXTSIZE in bytes; it cuts (max) values only, as documented.
    """
    unicode = codec == "utf-16-le"
    if length is None:
        length = 1
    # A declared length beyond 8,000 bytes (e.g. a long literal typed nvarchar(150000)) can
    # only travel as (max), like SQL Server types such values.
    is_max = length == -1 or length * (2 if unicode else 1) > 8000
    if is_max:
        type_id = {NCHARTYPE: NVARCHARTYPE, BIGCHARTYPE: BIGVARCHRTYPE, BIGBINARYTYPE: BIGVARBINTYPE}.get(
            type_id, type_id
        )
    max_bytes = 0xFFFF if is_max else length * (2 if unicode else 1)
    info = struct.pack("<BH", type_id, max_bytes) + (COLLATION if collated else b"")
    to_bytes = _to_bytes(codec)

    if is_max:
        to_sent_bytes = _cut(to_bytes, limit, unicode)

        def encode(value):
            return _plp(to_sent_bytes(value))

        return info, encode, PLP_NULL

    ushort = struct.Struct("<H").pack

    if unicode:

        def encode(value):
            try:
                data = value.encode("utf-16-le")
            except UnicodeEncodeError:  # a lone surrogate: pass it through as SQL Server would
                data = value.encode("utf-16-le", errors="surrogatepass")
            return ushort(len(data)) + data
    else:

        def encode(value):
            data = to_bytes(value)
            return ushort(len(data)) + data

    return info, encode, _NULL_USHORT


# --- 2.2.5.4.3 text, ntext and image (LONGLEN types): TYPE_INFO is the type, a 4-byte maximum
# size and, for text and ntext, the collation; then, in COLMETADATA only, TableName (TDS 7.2+:
# NumParts (1), then each part a US_VARCHAR), before the column name (2.2.7.4). A value
# (2.2.7.19 ROW) is TextPointer (B_VARBYTE), Timestamp (8 bytes), then the data with a 4-byte
# length; a NULL is a TextPointer of length 0 and nothing after it (before NBCROW).
_LEGACY_LOB_INFO = {  # sql type id, maximum size (ntext: 2^30-1 characters), codec
    "text": (TEXTTYPE, 0x7FFFFFFF, "cp1252"),
    "ntext": (NTEXTTYPE, 0x7FFFFFFE, "utf-16-le"),
    "image": (IMAGETYPE, 0x7FFFFFFF, "binary"),
}
# The placeholder pointer and timestamp SQL Server sends under TDS 7.2+: FreeTDS (src/tds/data.c,
# tds_generic_get) takes a 16-byte pointer "dummy textptr\0\0..." as "no valid pointer" (commit
# fb99634: "Protocols 7.2+ does not return text ptr"); SQL Relay's TDS server (sqlrprotocol_tds)
# sends "dummy textptr" and "dummyTS" as "SQL Server itself appears to send"; python-tds
# (tds_types.py, Image70Serializer.read) reads an image value only after a 16-byte pointer.
# The emulator has no READTEXT/WRITETEXT, so it has no pointer to offer anyway.
_TEXT_POINTER = b"\x10" + b"dummy textptr\x00\x00\x00"
_TEXT_TIMESTAMP = b"dummyTS\x00"
# TableName: one empty part, what an expression's column carries. SQL Server names a table
# column's base table here; the emulator's result columns do not know it (clients keep it only
# as metadata: FreeTDS's table_name, python-tds' table_name_parts).
_NO_TABLE_NAME = b"\x01\x00\x00"


def _legacy_lob_encoder(legacy_lob: str, limit: int | None) -> tuple[bytes, Encoder, bytes]:
    type_id, max_size, codec = _LEGACY_LOB_INFO[legacy_lob]
    info = struct.pack("<BI", type_id, max_size) + (COLLATION if codec != "binary" else b"") + _NO_TABLE_NAME
    to_bytes = _cut(_to_bytes(codec), limit, codec == "utf-16-le")
    prefix = _TEXT_POINTER + _TEXT_TIMESTAMP
    length = struct.Struct("<I").pack

    def encode(value):
        data = to_bytes(value)
        return prefix + length(len(data)) + data

    return info, encode, b"\x00"


# --- 2.2.5.5.3 XMLTYPE (0xF1): TYPE_INFO is the type and XML_INFO, whose SCHEMA_PRESENT byte is 0
# here (no schema collection); a value is PLP (2.2.5.2.3) UTF-16LE, like nvarchar(max). SET
# TEXTSIZE does not apply: its page lists the (max), text, ntext and image types only
# (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-textsize-transact-sql). python-tds
# (tds_types.py, XmlSerializer) and FreeTDS read it so.
XMLTYPE = 0xF1


def _xml_encoder() -> tuple[bytes, Encoder, bytes]:
    def encode(value):
        return _plp(str(value).encode("utf-16-le"))

    return bytes([XMLTYPE, 0]), encode, PLP_NULL


# --- 2.2.5.5.4 sql_variant (SSVARIANTTYPE, a LONGLEN type): TYPE_INFO is the type and a 4-byte
# maximum length, 8016 (sys.types' max_length for sql_variant). A value is its total length
# (4 bytes, 0 for NULL), BaseType (1), PropBytes (1), the base type's properties (none for the
# fixed types; scale for time/datetime2/datetimeoffset; precision and scale for decimal; the
# maximum length, after the collation for text), then the value's bytes without a length of
# their own. python-tds 1.17.1 reads it so (tds_types.py, VariantSerializer).
SSVARIANTTYPE = 0x62
_VARIANT_MAX_LENGTH = 8016
_VARIANT_FIXED_TYPES = {  # the fixed-length type ids (2.2.5.4.1) a variant's BaseType uses
    "tinyint": 0x30,
    "bit": 0x32,
    "smallint": 0x34,
    "int": 0x38,
    "real": 0x3B,
    "money": 0x3C,
    "datetime": 0x3D,
    "float": 0x3E,
    "bigint": 0x7F,
    "uniqueidentifier": GUIDTYPE,
    "date": DATENTYPE,
}
_VARIANT_SCALED_TYPES = {
    "time": TIMENTYPE,
    "datetime2": DATETIME2NTYPE,
    "datetimeoffset": DATETIMEOFFSETNTYPE,
}
_VARIANT_TEXT_TYPES = {
    "nvarchar": NVARCHARTYPE,
    "nchar": NCHARTYPE,
    "varchar": BIGVARCHRTYPE,
    "char": BIGCHARTYPE,
}
_VARIANT_BINARY_TYPES = {"varbinary": BIGVARBINTYPE, "binary": BIGBINARYTYPE}


def _variant_encoder(base: Column | None) -> tuple[bytes, Encoder, bytes]:
    """A sql_variant column whose values all have the type ``base`` (unknown: sent as their text)."""
    as_text = base is None or base.sql_type not in (
        _VARIANT_FIXED_TYPES.keys()
        | _VARIANT_SCALED_TYPES.keys()
        | _VARIANT_TEXT_TYPES.keys()
        | _VARIANT_BINARY_TYPES.keys()
        | {"decimal", "numeric"}
    )
    if as_text:
        base = Column("", "nvarchar", length=4000)
    t = base.sql_type
    if t in _VARIANT_TEXT_TYPES or t in _VARIANT_BINARY_TYPES:
        # A variant holds at most 8,000 bytes of its base value, so never a (max) type.
        limit = 4000 if t in ("nvarchar", "nchar") else 8000
        length = base.length if base.length and 0 < base.length <= limit else limit
        base = Column("", t, length=length)
        max_bytes = struct.pack("<H", length * (2 if t in ("nvarchar", "nchar") else 1))
        if t in _VARIANT_TEXT_TYPES:
            type_id, properties, skip = _VARIANT_TEXT_TYPES[t], COLLATION + max_bytes, 2
        else:
            type_id, properties, skip = _VARIANT_BINARY_TYPES[t], max_bytes, 2
    elif t in _VARIANT_SCALED_TYPES:
        type_id, properties, skip = (
            _VARIANT_SCALED_TYPES[t],
            bytes([7 if base.scale is None else base.scale]),
            1,
        )
    elif t in ("decimal", "numeric"):
        precision, scale = base.precision or 18, base.scale or 0
        base = Column("", t, precision=precision, scale=scale)
        type_id = DECIMALNTYPE if t == "decimal" else NUMERICNTYPE
        properties, skip = bytes([precision, scale]), 1
    else:
        type_id, properties, skip = _VARIANT_FIXED_TYPES[t], b"", 1
    _, encode_base, _ = compile_column(base)
    head = bytes([type_id, len(properties)]) + properties
    length = struct.Struct("<I").pack

    def encode(value):
        body = head + encode_base(str(value) if as_text else value)[skip:]
        return length(len(body)) + body

    return struct.pack("<BI", SSVARIANTTYPE, _VARIANT_MAX_LENGTH), encode, b"\x00\x00\x00\x00"


def compile_column(column: Column, limit: int | None = None) -> tuple[bytes, Encoder, bytes]:
    """(TYPE_INFO, encoder of a non-NULL value, NULL encoding) for one declared column.

    ``limit``: the session's TEXTSIZE in bytes (None: unlimited), for large values.
    """
    t = column.sql_type.lower()
    if column.legacy_lob == "xml":
        return _xml_encoder()
    if column.legacy_lob in _LEGACY_LOB_INFO:
        return _legacy_lob_encoder(column.legacy_lob, limit)
    if t == "sql_variant":
        return _variant_encoder(column.variant_base)
    if t in _INT_FORMATS:
        info, enc = _int_encoder(t)
    elif t == "bit":
        info, enc = _bit_encoder()
    elif t == "float":
        info, enc = _float_encoder(8)
    elif t == "real":
        info, enc = _float_encoder(4)
    elif t == "money":
        info, enc = _money_encoder(8)
    elif t == "smallmoney":
        info, enc = _money_encoder(4)
    elif t in ("decimal", "numeric"):
        precision = column.precision or 18
        scale = column.scale or 0
        info, enc = _decimal_encoder(DECIMALNTYPE if t == "decimal" else NUMERICNTYPE, precision, scale)
    elif t == "date":
        info, enc = _date_encoder()
    elif t == "time":
        info, enc = _time_encoder(7 if column.scale is None else column.scale)
    elif t == "datetime2":
        info, enc = _datetime2_encoder(7 if column.scale is None else column.scale)
    elif t == "datetimeoffset":
        info, enc = _datetimeoffset_encoder(7 if column.scale is None else column.scale)
    elif t == "datetime":
        info, enc = _datetime_encoder(8)
    elif t == "smalldatetime":
        info, enc = _datetime_encoder(4)
    elif t == "uniqueidentifier":
        info, enc = _guid_encoder()
    elif t in ("nvarchar", "nchar"):
        return _text_encoder(
            NVARCHARTYPE if t == "nvarchar" else NCHARTYPE, column.length, "utf-16-le", True, limit
        )
    elif t in ("varchar", "char"):
        return _text_encoder(
            BIGVARCHRTYPE if t == "varchar" else BIGCHARTYPE, column.length, "cp1252", True, limit
        )
    elif t in ("varbinary", "binary"):
        return _text_encoder(
            BIGVARBINTYPE if t == "varbinary" else BIGBINARYTYPE, column.length, "binary", False, limit
        )
    else:
        raise SqlServerError(
            50000,
            f"The emulator cannot send column '{column.name}' of type '{column.sql_type}' over TDS.",
            16,
            1,
        )
    return info, enc, _NULL_BYTELEN


def _legacy_temporal(column: Column) -> Column | None:
    """Before TDS 7.3, SQL Server sends date/time types as nvarchar (their string form)."""
    lengths = {"date": 10, "time": 16, "datetime2": 27, "datetimeoffset": 34}
    t = column.sql_type.lower()
    if t in lengths:
        return Column(column.name, "nvarchar", lengths[t], nullable=column.nullable)
    return None


def _legacy_text(value) -> str:
    if isinstance(value, (DateTime2, Time7)):
        base = value.value.isoformat(sep=" ") if isinstance(value, DateTime2) else value.value.isoformat()
        return base if not value.ticks else base + str(value.ticks)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat()


def _via_text(encode: Encoder) -> Encoder:
    return lambda value: encode(_legacy_text(value))


def compile_columns(
    columns: list[Column], tds_version: int, text_limit: int | None = None
) -> CompiledColumns:
    """COLMETADATA (Count (2), then per column UserType (4), Flags (2), TYPE_INFO, ColName).

    ``text_limit``: the session's TEXTSIZE in bytes (``textsize.byte_limit``), None for none.
    """
    parts = [struct.pack("<BH", TOKEN_COLMETADATA, len(columns))]
    encoders: list[Encoder] = []
    nulls: list[bytes] = []
    for column in columns:
        legacy = _legacy_temporal(column) if tds_version < TDS73A else None
        info, encode, null = compile_column(legacy or column, text_limit)
        if legacy:
            encode = _via_text(encode)
        flags = FLAG_UPDATEABLE_UNKNOWN | (FLAG_NULLABLE if column.nullable else 0)
        parts.append(struct.pack("<IH", 0, flags) + info + _b_varchar(column.name))
        encoders.append(encode)
        nulls.append(null)
    return CompiledColumns(b"".join(parts), encoders, nulls)


def row_encoder(compiled: CompiledColumns, tds_version: int) -> Callable[[tuple], bytes]:
    """A function turning one row tuple into a ROW token, or an NBCROW token if it has NULLs.

    NULLs never reach the column encoders: NBCROW leaves them out (a bit in its bitmap) and,
    before TDS 7.3, ROW carries each column's NULL encoding.
    """
    encoders = compiled.encoders
    nulls = compiled.null_encodings
    n = len(encoders)
    row_prefix = bytes([TOKEN_ROW])
    nbc_prefix = bytes([TOKEN_NBCROW])
    bitmap_len = (n + 7) // 8
    use_nbc = tds_version >= TDS73A  # NBCROW arrived with TDS 7.3
    join = b"".join

    def encode_row(row: tuple) -> bytes:
        if len(row) != n:
            raise SqlServerError(
                50000, f"The engine produced a row of {len(row)} values for {n} columns.", 16, 1
            )
        if None not in row:
            return row_prefix + join([encode(value) for encode, value in zip(encoders, row, strict=False)])
        if not use_nbc:
            return row_prefix + join(
                [
                    null if value is None else encode(value)
                    for encode, null, value in zip(encoders, nulls, row, strict=False)
                ]
            )
        bitmap = 0
        values = []
        for i, value in enumerate(row):
            if value is None:
                bitmap |= 1 << i
            else:
                values.append(encoders[i](value))
        return nbc_prefix + bitmap.to_bytes(bitmap_len, "little") + join(values)

    return encode_row
