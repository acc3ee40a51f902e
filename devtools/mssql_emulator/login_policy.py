"""Who may log in, and how a connection is encrypted: the decisions SQL Server makes at login.

Pure functions over what the client sent; the server module carries them out on the wire.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from devtools.mssql_emulator import client_messages
from devtools.mssql_emulator.results import SqlServerError
from devtools.mssql_emulator.tokens import TDS72, TDS74


class Encryption(enum.Enum):
    """How much of a connection travels inside TLS (sys.dm_exec_connections.encrypt_option)."""

    NONE = "none"  # client and server agreed on no TLS (client sent ENCRYPT_NOT_SUP)
    LOGIN_ONLY = "login only"  # only the LOGIN7 packet is encrypted, the session is not
    FULL = "full"  # TLS negotiated in PRELOGIN, the whole session encrypted
    STRICT = "strict"  # TDS 8.0: TLS before PRELOGIN, the whole session encrypted

    @property
    def session_encrypted(self) -> bool:
        return self in (Encryption.FULL, Encryption.STRICT)


@dataclass(frozen=True)
class EncryptionChoice:
    answer: int  # the server's PRELOGIN ENCRYPTION value
    encryption: Encryption
    refuse: bool = False  # the server cannot serve this client: close after the answer


def choose_encryption(client_value: int, *, force: bool) -> EncryptionChoice:
    """The server's side of [MS-TDS] 2.2.6.5's encryption table.

    The table pairs client and server values: OFF/OFF encrypts the login packet only; ON on
    either side, or the server's REQ, encrypts the whole connection; NOT_SUP against ON or REQ
    ends the connection. A server that offers TLS answers OFF to OFF (login only) and ON to
    ON/REQ. With "Force Encryption" it answers REQ, which makes the whole connection encrypted
    (https://learn.microsoft.com/en-us/sql/database-engine/configure-windows/configure-sql-server-encryption).
    The high bit (ENCRYPT_CLIENT_CERT) asks for a client-certificate login, not offered here,
    so it is ignored.
    """
    value = client_value & 0x0F
    if value == client_messages.ENCRYPT_NOT_SUP:
        if force:
            return EncryptionChoice(client_messages.ENCRYPT_REQ, Encryption.NONE, refuse=True)
        return EncryptionChoice(client_messages.ENCRYPT_NOT_SUP, Encryption.NONE)
    if value == client_messages.ENCRYPT_OFF and not force:
        return EncryptionChoice(client_messages.ENCRYPT_OFF, Encryption.LOGIN_ONLY)
    if value == client_messages.ENCRYPT_OFF:
        return EncryptionChoice(client_messages.ENCRYPT_REQ, Encryption.FULL)
    return EncryptionChoice(client_messages.ENCRYPT_ON, Encryption.FULL)


def strict_prelogin_answer() -> int:
    """The ENCRYPTION answer inside a TDS 8.0 session: TLS is already up, nothing to negotiate."""
    return client_messages.ENCRYPT_NOT_SUP


TDS80 = 0x08000000  # LOGIN7 TDSVersion of TDS 8.0 ([MS-TDS] 2.2.6.4), sent inside strict TLS


def token_stream_version(tds_version: int, encryption: Encryption) -> int:
    """The version whose token stream a session speaks. TDS 8.0 changes the transport (TLS
    first), not the tokens, which are TDS 7.4's; the LOGINACK names 7.4 as well."""
    if tds_version == TDS80 and encryption is Encryption.STRICT:
        return TDS74
    return tds_version


def version_refusal(tds_version: int) -> SqlServerError | None:
    """The emulator speaks TDS 7.2 to 7.4 (and 8.0 in strict TLS); older clients get a message
    telling them what to send."""
    if tds_version >= TDS72:
        return None
    return SqlServerError(
        50000,
        f"The emulator speaks TDS 7.2 to 7.4; this client offered TDS version "
        f"{tds_version:#010x}. Connect with TDS 7.4 (pymssql: tds_version='7.4').",
        16,
        1,
    )


def login_failures(
    login: client_messages.Login7, *, user: str, password: str, database: str, database_exists
) -> list[SqlServerError]:
    """SQL Server's errors for a refused login (empty when the login succeeds).

    Error texts and numbers: https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/mssqlserver-18456-database-engine-error
    and mssqlserver-4060; a failed login says only "Login failed", never why.
    """
    if login.integrated_security:
        return [
            SqlServerError(
                18452,
                "Login failed. The login is from an untrusted domain and cannot be used "
                "with Integrated authentication.",
                14,
                1,
            )
        ]
    if login.user_name != user or login.password != password:
        return [SqlServerError(18456, f"Login failed for user '{login.user_name}'.", 14, 1)]
    if not database_exists(database):
        return [
            SqlServerError(
                4060,
                f'Cannot open database "{database}" requested by the login. The login failed.',
                11,
                1,
            ),
            SqlServerError(18456, f"Login failed for user '{login.user_name}'.", 14, 1),
        ]
    return []
