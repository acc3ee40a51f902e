"""SET TEXTSIZE: how many bytes of each large value a SELECT sends, per session (@@TEXTSIZE).

From Microsoft's pages:
- SET TEXTSIZE "specifies the size of varchar(max), nvarchar(max), varbinary(max), text, ntext,
  and image data returned by a SELECT statement", in bytes; "number is an integer with a
  maximum value of 2147483647 (2 GB). A value of -1 indicates unlimited size. A value of 0
  resets the size to the default value of 4 KB"; it "is set at execute or run time and not at
  parse time" (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-textsize-transact-sql).
- @@TEXTSIZE "returns the current value of the TEXTSIZE option"; its example shows 4096 after
  SET TEXTSIZE 0 (https://learn.microsoft.com/en-us/sql/t-sql/functions/textsize-transact-sql).
- A session starts at the default unless its LOGIN7 has fODBC (OptionFlags2 0x02), which makes
  the server "set ... TEXTSIZE to 0x7FFFFFFF (2GB) (TDS 7.2 and earlier), TEXTSIZE to infinite
  (introduced in TDS 7.3)" ([MS-TDS] 2.2.6.4 LOGIN7). Who sets it: python-tds 1.17.1
  (src/pytds/__init__.py: option_flag2 = TDS_ODBC_ON), go-mssqldb (tds.go: fODBC "to get
  unlimited TEXTSIZE"), tiberius (codec/login.rs: OdbcDriver) and FreeTDS's ODBC driver
  (tds/mem.c) set it; FreeTDS's DB-Library, which pymssql uses, clears it (dblib.c: "we're not
  an ODBC driver") and sends ``SET TEXTSIZE n`` itself only when freetds.conf has ``text size``
  (tds/login.c); pymssql's default conn_properties end with SET TEXTSIZE 2147483647
  (_mssql.pyx), and its own suite notes "By default, SQL server sets TEXTSIZE = 4096 bytes".

Not documented, so chosen here: @@TEXTSIZE reads -1 while the size is unlimited; a negative
number other than -1 also means unlimited; a number that is not an integer is error 102.
"""

from __future__ import annotations

from devtools.mssql_emulator.results import SqlServerError

OPTION = "textsize"  # the key in Session.options, where the engine keeps SET options
DEFAULT = 4096
MAXIMUM = 2147483647
UNLIMITED = -1
OPTION_FLAGS2_ODBC = 0x02
_TDS73 = 0x730A0003


def at_login(option_flags2: int, tds_version: int) -> int:
    """A new session's TEXTSIZE: unlimited (2 GB before TDS 7.3) for fODBC, else the default."""
    if not option_flags2 & OPTION_FLAGS2_ODBC:
        return DEFAULT
    return UNLIMITED if tds_version >= _TDS73 else MAXIMUM


def parse_set(text: str) -> int:
    """The value ``SET TEXTSIZE <text>`` gives the session."""
    word = text.strip().rstrip(";").strip()
    try:
        number = int(word)
    except ValueError:
        raise SqlServerError(102, f"Incorrect syntax near '{word[:20]}'.", 15) from None
    if number > MAXIMUM:
        raise SqlServerError(102, f"Incorrect syntax near '{word[:20]}'.", 15)
    if number == 0:
        return DEFAULT
    return UNLIMITED if number < 0 else number


def of_session(options: dict) -> int:
    """The session's current TEXTSIZE (what @@TEXTSIZE reports); the default if never set."""
    value = options.get(OPTION, DEFAULT)
    return value if isinstance(value, int) else parse_set(str(value))


def byte_limit(options: dict) -> int | None:
    """How many bytes of a large value may be sent, or None for no limit."""
    value = of_session(options)
    return None if value == UNLIMITED else value
