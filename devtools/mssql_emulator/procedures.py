"""The system stored procedures the emulator answers: ``sp_datatype_info`` and its _90/_100 forms.

FreeTDS's ODBC driver calls ``sp_datatype_info_100 <type>,3`` (TDS 7.3+) for SQLGetTypeInfo.
The result set is the one documented for sp_datatype_info
(https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-datatype-info-transact-sql),
one row per type the emulator can store, with the ODBC codes and attributes of ODBC's
SQLGetTypeInfo (https://learn.microsoft.com/en-us/sql/odbc/reference/syntax/sqlgettypeinfo-function)
and of SQL Server's date/time extensions (SQL_SS_TIME2 -154, SQL_SS_TIMESTAMPOFFSET -155:
https://learn.microsoft.com/en-us/sql/relational-databases/native-client-odbc-date-time/data-type-support-for-odbc-date-and-time-improvements).
ODBC 2 (the default @ODBCVer) codes the date/time types 9/10/11 where ODBC 3 says 91/92/93.
USERTYPE is the legacy systypes number; 0 where a type has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from devtools.mssql_emulator.results import Column, ResultSet, SqlServerError

COLUMNS = [
    Column("TYPE_NAME", "nvarchar", length=128, nullable=False),
    Column("DATA_TYPE", "smallint", nullable=False),
    Column("PRECISION", "int"),
    Column("LITERAL_PREFIX", "varchar", length=32),
    Column("LITERAL_SUFFIX", "varchar", length=32),
    Column("CREATE_PARAMS", "varchar", length=32),
    Column("NULLABLE", "smallint", nullable=False),
    Column("CASE_SENSITIVE", "smallint", nullable=False),
    Column("SEARCHABLE", "smallint", nullable=False),
    Column("UNSIGNED_ATTRIBUTE", "smallint"),
    Column("MONEY", "smallint", nullable=False),
    Column("AUTO_INCREMENT", "smallint"),
    Column("LOCAL_TYPE_NAME", "nvarchar", length=128),
    Column("MINIMUM_SCALE", "smallint"),
    Column("MAXIMUM_SCALE", "smallint"),
    Column("SQL_DATA_TYPE", "smallint", nullable=False),
    Column("SQL_DATETIME_SUB", "smallint"),
    Column("NUM_PREC_RADIX", "int"),
    Column("INTERVAL_PRECISION", "smallint"),
    Column("USERTYPE", "smallint"),
]

# ODBC 3 SEARCHABLE: SQL_PRED_BASIC (2, every comparison but LIKE) and SQL_SEARCHABLE (3).
_BASIC, _SEARCHABLE = 2, 3


@dataclass(frozen=True)
class _Type:
    name: str
    odbc3: int  # DATA_TYPE under ODBC 3
    precision: int | None
    prefix: str | None = None
    suffix: str | None = None
    create_params: str | None = None
    numeric: bool = False  # UNSIGNED_ATTRIBUTE and AUTO_INCREMENT apply
    unsigned: bool = False
    money: bool = False
    scale: tuple[int, int] | None = None  # MINIMUM_SCALE, MAXIMUM_SCALE
    radix: int | None = None
    datetime_sub: int | None = None  # SQL_DATA_TYPE is SQL_DATETIME (9) with this code
    usertype: int = 0

    def row(self, odbc_version: int) -> tuple:
        data_type = self.odbc3 if odbc_version >= 3 else _ODBC2_DATETIME.get(self.odbc3, self.odbc3)
        text = self.prefix == "'"
        return (
            self.name,
            data_type,
            self.precision,
            self.prefix,
            self.suffix,
            self.create_params,
            1,
            0,  # the default collation is case-insensitive
            _SEARCHABLE if text else _BASIC,
            int(self.unsigned) if self.numeric else None,
            int(self.money),
            0 if self.numeric else None,
            self.name,
            self.scale[0] if self.scale else None,
            self.scale[1] if self.scale else None,
            9 if self.datetime_sub is not None else data_type,
            self.datetime_sub,
            self.radix,
            None,
            self.usertype,
        )


_ODBC2_DATETIME = {91: 9, 92: 10, 93: 11}

TYPES = [
    _Type("bit", -7, 1, numeric=True, unsigned=True, scale=(0, 0), radix=10, usertype=16),
    _Type("tinyint", -6, 3, numeric=True, unsigned=True, scale=(0, 0), radix=10, usertype=5),
    _Type("bigint", -5, 19, numeric=True, scale=(0, 0), radix=10),
    _Type("varbinary", -3, 8000, "0x", None, "max length", usertype=4),
    _Type("binary", -2, 8000, "0x", None, "length", usertype=3),
    _Type("char", 1, 8000, "'", "'", "length", usertype=1),
    _Type(
        "numeric", 2, 38, None, None, "precision,scale", numeric=True, scale=(0, 38), radix=10, usertype=10
    ),
    _Type(
        "decimal", 3, 38, None, None, "precision,scale", numeric=True, scale=(0, 38), radix=10, usertype=24
    ),
    _Type("money", 3, 19, "$", None, None, numeric=True, money=True, scale=(4, 4), radix=10, usertype=11),
    _Type(
        "smallmoney", 3, 10, "$", None, None, numeric=True, money=True, scale=(4, 4), radix=10, usertype=21
    ),
    _Type("int", 4, 10, numeric=True, scale=(0, 0), radix=10, usertype=7),
    _Type("smallint", 5, 5, numeric=True, scale=(0, 0), radix=10, usertype=6),
    _Type("float", 6, 53, numeric=True, radix=2, usertype=8),
    _Type("real", 7, 24, numeric=True, radix=2, usertype=23),
    _Type("varchar", 12, 8000, "'", "'", "max length", usertype=2),
    _Type("date", 91, 10, "'", "'", None, datetime_sub=1),
    _Type("datetime2", 93, 27, "'", "'", "scale", scale=(0, 7), datetime_sub=3),
    _Type("datetime", 93, 23, "'", "'", None, scale=(3, 3), datetime_sub=3, usertype=12),
    _Type("smalldatetime", 93, 16, "'", "'", None, scale=(0, 0), datetime_sub=3, usertype=22),
    _Type("time", -154, 16, "'", "'", "scale", scale=(0, 7)),
    _Type("datetimeoffset", -155, 34, "'", "'", "scale", scale=(0, 7)),
    _Type("uniqueidentifier", -11, 36, "'", "'"),
    _Type("nchar", -8, 4000, "N'", "'", "length"),
    _Type("nvarchar", -9, 4000, "N'", "'", "max length"),
    _Type("sysname", -9, 128, "N'", "'"),
]

_DATATYPE_INFO = {"sp_datatype_info", "sp_datatype_info_90", "sp_datatype_info_100"}


def is_system_procedure(name: str) -> bool:
    """Named like a system procedure (sp_/xp_), as the emulator knows no user procedures."""
    return name.lower().startswith(("sp_", "xp_"))


def run(name: str, arguments: list[tuple[str | None, object]]) -> ResultSet | None:
    """The procedure's result set, or None when the emulator does not have it.

    ``arguments``: (parameter name without @, or None for a positional one, constant value).
    """
    if name.lower() not in _DATATYPE_INFO:
        return None
    data_type, odbc_version = _bind(arguments, ("data_type", "odbcver"), (0, 2))
    rows = [t.row(int(odbc_version)) for t in TYPES]
    if data_type:
        rows = [r for r in rows if r[1] == int(data_type)]
    return ResultSet(list(COLUMNS), iter(rows))


def _bind(arguments, names: tuple[str, ...], defaults: tuple) -> list:
    values = list(defaults)
    for position, (name, value) in enumerate(arguments):
        if name and name.lower() not in names:
            raise SqlServerError(8145, f"@{name} is not a parameter for procedure sp_datatype_info.", 16)
        index = names.index(name.lower()) if name else position
        if index >= len(values):
            raise SqlServerError(
                8144, "Procedure or function sp_datatype_info has too many arguments specified.", 16
            )
        values[index] = defaults[index] if value is None else value
    return values
