"""The SQL Server connection: encrypted by default, and the server's certificate verified on request.

pymssql takes ``encryption`` but no CA file: its bundled FreeTDS reads ``ca file`` and
``check certificate hostname`` only from a ``freetds.conf``. :class:`SourceHook` therefore takes
two extras of its own from the Airflow connection, never passes them to pymssql, and writes them
into a private ``freetds.conf`` that ``FREETDSCONF`` names for the length of the login:

- ``ca_file``: PEM file of the CA certificates to trust; setting it turns verification on.
- ``check_certificate_hostname`` (default true): the certificate must name the host connected to.

FreeTDS reports a failed verification only as "connection failed" (DB-Lib 20002), which looks
like a network fault; :func:`certificate_problem` repeats the TLS handshake with Python's ``ssl``
and the same CA file, so the error names the reason and the sync fails without retrying.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

from include.table_sync.errors import SyncError

# What the sync relies on when the Airflow connection does not say: TLS for the whole session,
# and a bounded login and query wait, so a dead SQL Server cannot hang a task until its timeout.
SOURCE_CONNECT_DEFAULTS = {"encryption": "require", "tds_version": "7.4", "login_timeout": 15, "timeout": 120}

# Extras this module understands; pymssql never sees them.
CA_FILE_EXTRA = "ca_file"
CHECK_HOSTNAME_EXTRA = "check_certificate_hostname"
OWN_EXTRAS = {CA_FILE_EXTRA, CHECK_HOSTNAME_EXTRA, "sqlalchemy_scheme"}

# FREETDSCONF is one variable per process: two logins with different files must not interleave.
_FREETDSCONF_LOCK = threading.Lock()


class SourceCertificateError(SyncError):
    """The SQL Server's TLS certificate could not be verified: terminal, a retry cannot help."""

    def __init__(self, host: str, port: int | None, ca_file: str, reason: str):
        self.host, self.port, self.ca_file, self.reason = host, port, ca_file, reason
        super().__init__(
            f"SQL Server {host}:{port}: TLS certificate verification failed against "
            f"ca_file {ca_file}: {reason}"
        )


class SourceTlsSettingError(SyncError):
    """The connection's TLS extras cannot be used (names the extra and the value)."""


class SourceHook(MsSqlHook):
    """``MsSqlHook`` whose ``get_conn`` turns ``ca_file``/``check_certificate_hostname`` into FreeTDS's settings."""

    def get_conn(self):
        import pymssql

        conn = self.connection
        extras = conn.extra_dejson
        kwargs = {key: value for key, value in extras.items() if key not in OWN_EXTRAS}
        host, port = conn.host or "", conn.port
        connect = lambda: pymssql.connect(  # noqa: E731 - the same call with or without a CA file
            server=host,
            user=conn.login,
            password=conn.password,
            database=self.schema or conn.schema or "",
            port=str(port),
            **kwargs,
        )
        ca_file = extras.get(CA_FILE_EXTRA)
        if not ca_file:
            return connect()
        check_hostname = _boolean(extras.get(CHECK_HOSTNAME_EXTRA, True), CHECK_HOSTNAME_EXTRA)
        ca_file = _readable_ca_file(ca_file)
        if kwargs.get("encryption") != "require":
            raise SourceTlsSettingError(
                f"extra {CA_FILE_EXTRA} needs encryption 'require' (got {kwargs.get('encryption')!r}): "
                "with 'off' or 'request' a server on the path can decline TLS"
            )
        timeout = float(kwargs.get("login_timeout") or 15)
        with freetds_config(freetds_conf_text(host, port, ca_file, check_hostname)):
            try:
                return connect()
            except pymssql.Error:
                problem = certificate_problem(host, int(port or 1433), ca_file, check_hostname, timeout)
                if problem is None:
                    raise  # the certificate is fine: classified like any other connection failure
        raise SourceCertificateError(host, port, ca_file, problem)


def _boolean(value: Any, extra: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1", "on"}:
        return True
    if text in {"false", "no", "0", "off"}:
        return False
    raise SourceTlsSettingError(f"extra {extra} must be true or false, got {value!r}")


def _readable_ca_file(value: Any) -> str:
    text = str(value)
    # The path goes into a freetds.conf line: a line break would smuggle in other settings.
    if any(ord(char) < 32 for char in text):
        raise SourceTlsSettingError(f"extra {CA_FILE_EXTRA} holds a control character: {text!r}")
    path = Path(text)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise SourceTlsSettingError(f"extra {CA_FILE_EXTRA}: no readable file at {text}")
    return str(path.resolve())


def freetds_conf_text(host: str, port: int | str | None, ca_file: str, check_hostname: bool) -> str:
    """A freetds.conf holding the verification settings for the server pymssql names ``host:port``.

    The settings sit in the server's own section too: FreeTDS stops at the first file that has
    it, so no ``~/.freetds.conf`` read after ours can change the CA file. A found section must
    say where the server is, or FreeTDS takes its name for the host.
    """
    settings = f"\tca file = {ca_file}\n\tcheck certificate hostname = {'yes' if check_hostname else 'no'}\n"
    section = (
        f"[{host}:{port}]\n\thost = {host}\n\tport = {port}\n" if port else f"[{host}]\n\thost = {host}\n"
    )
    return f"[global]\n{settings}{section}{settings}"


@contextlib.contextmanager
def freetds_config(text: str) -> Iterator[Path]:
    """Point FreeTDS at a private file holding ``text`` while the block runs (one login at a time)."""
    with tempfile.TemporaryDirectory(prefix="oos-freetds-") as directory:
        path = Path(directory) / "freetds.conf"
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
        with _FREETDSCONF_LOCK:
            previous = os.environ.get("FREETDSCONF")
            os.environ["FREETDSCONF"] = str(path)
            try:
                yield path
            finally:
                if previous is None:
                    os.environ.pop("FREETDSCONF", None)
                else:
                    os.environ["FREETDSCONF"] = previous


# -- naming the reason: the TLS handshake again, with Python's ssl ---------------------------------

PRELOGIN = 0x12  # [MS-TDS] 2.2.3.1.1 packet type; the TLS handshake of TDS 7.x travels in it
_EOM = 0x01  # [MS-TDS] 2.2.3.1.2 status: last packet of the message
_ENCRYPT_ON = 0x01  # [MS-TDS] 2.2.6.5 ENCRYPTION option
_ENCRYPT_NOT_SUP = 0x02


def certificate_problem(
    host: str, port: int, ca_file: str, check_hostname: bool, timeout: float
) -> str | None:
    """Why the server's certificate fails verification, or None if it passes (or TLS never started)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = check_hostname
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            # [MS-TDS] 2.2.6.5: VERSION (6 bytes) and ENCRYPTION (1 byte) after a 2-entry option table.
            options = bytes([0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF])
            _send_packet(sock, options + bytes(6) + bytes([_ENCRYPT_ON]))
            if _prelogin_encryption(_read_packet(sock)) == _ENCRYPT_NOT_SUP:
                return "the server does not offer TLS"
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = context.wrap_bio(incoming, outgoing, server_hostname=host)
            while True:
                try:
                    tls.do_handshake()
                    return None
                except ssl.SSLWantReadError:
                    if outgoing.pending:
                        _send_packet(sock, outgoing.read())
                    incoming.write(_read_packet(sock))
    except ssl.SSLCertVerificationError as error:
        return error.verify_message or str(error)
    except (OSError, ssl.SSLError, ValueError):
        return None  # not a certificate question: leave the original error to its classification


def _send_packet(sock: socket.socket, payload: bytes) -> None:
    # [MS-TDS] 2.2.3.1: type, status, length (big-endian, header included), SPID, packet id, window.
    sock.sendall(struct.pack(">BBHHBB", PRELOGIN, _EOM, 8 + len(payload), 0, 1, 0) + payload)


def _read_packet(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 8)
    (length,) = struct.unpack(">H", header[2:4])
    return _read_exactly(sock, length - 8)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def _prelogin_encryption(payload: bytes) -> int | None:
    # [MS-TDS] 2.2.6.5: option entries (token, offset, length) up to the 0xFF terminator.
    at = 0
    while at < len(payload) and payload[at] != 0xFF:
        token, offset, length = struct.unpack(">BHH", payload[at : at + 5])
        if token == 0x01 and length >= 1:
            return payload[offset]
        at += 5
    return None
