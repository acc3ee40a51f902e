"""The SQL Server connection as documented: encrypted, and the certificate verified against a CA file.

Every test goes through a recording proxy, a real TCP relay between pymssql and the emulator
that keeps each byte either side sends, so "nothing in clear" is checked on what crossed the wire.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading

import psycopg
import pymssql
import pytest

from devtools.certificates import CertificateAuthority
from devtools.demo_source.generate import VIEW, create_source, seed_source
from devtools.mssql_emulator import MssqlEmulator
from include.source_connection import SourceCertificateError, SourceTlsSettingError
from include.sync_dag import source_hook
from include.table_sync.pipeline import SyncContext, sync_once
from tests.sync.support import open_orders_mapping

PASSWORD = "demo-password-Tls9"
SEED_ROWS = 40
CONN_ID = "mssql_tls_probe"


class RecordingProxy:
    """Relay 127.0.0.1:port to ``target``, recording both directions into ``wire``."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self.listener.getsockname()
        self.wire = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> RecordingProxy:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self.listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                with self._lock:
                    self.wire += chunk
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def recorded(self) -> bytes:
        with self._lock:
            return bytes(self.wire)


def login7_obfuscated(password: str) -> bytes:
    """[MS-TDS] 2.2.6.4: each byte of the UTF-16LE password, nibbles swapped, XOR 0xA5."""
    return bytes((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5 for b in password.encode("utf-16-le"))


def clear_forms(text: str) -> list[bytes]:
    return [text.encode("utf-16-le"), text.encode("utf-8")]


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca"), "demo test CA")


@pytest.fixture(scope="module")
def emulator(test_ca, tmp_path_factory):
    """An emulator with a certificate for 127.0.0.1 from ``test_ca``, seeded with the demo view."""
    server = test_ca.issue_server_certificate(tmp_path_factory.mktemp("server"), ["localhost", "127.0.0.1"])
    with MssqlEmulator(password=PASSWORD, tls_cert=server.cert, tls_key=server.key) as emu:
        with contextlib.closing(pymssql.connect(**emu.connect_kwargs())) as conn:
            create_source(conn)
            seed_source(conn, SEED_ROWS, seed=5)
            conn.commit()
        yield emu


@pytest.fixture(scope="module")
def row_values(emulator) -> list[str]:
    """Distinctive text values of the view (read directly, not through any proxy)."""
    with contextlib.closing(pymssql.connect(**emulator.connect_kwargs())) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT TOP 10 * FROM {VIEW}")  # noqa: S608 - a constant
        rows = cursor.fetchall()
    values = {
        value
        for row in rows
        for value in row
        if isinstance(value, str) and len(value.strip()) >= 6 and any(char.isalpha() for char in value)
    }
    assert len(values) >= 5, values
    return sorted(values)


def use_connection(monkeypatch, proxy: RecordingProxy, emulator, **extra) -> None:
    """The documented connection (docs/deployment.md), pointed at the proxy."""
    connection = {
        "conn_type": "mssql",
        "host": proxy.host,
        "port": proxy.port,
        "login": emulator.user,
        "password": PASSWORD,
        "schema": emulator.database,
        "extra": {"tds_version": "7.4", "login_timeout": 10, "timeout": 60, **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))


def sync_through_hook(dsn: str):
    return sync_once(
        SyncContext(
            mapping=open_orders_mapping(),
            run_id="tls-run",
            connect_source=source_hook(CONN_ID).get_conn,
            connect_target=lambda: psycopg.connect(dsn),
            secrets=(PASSWORD,),
            log=logging.getLogger("table_sync"),
        )
    )


def read_view(proxy_conn) -> list[tuple]:
    cursor = proxy_conn.cursor()
    cursor.execute(f"SELECT * FROM {VIEW}")  # noqa: S608 - a constant
    return cursor.fetchall()


@pytest.mark.parametrize(("encryption", "password_in_clear"), [("off", True), ("request", False)])
def test_weaker_settings_put_rows_on_the_wire_in_clear(
    monkeypatch, emulator, row_values, encryption, password_in_clear
):
    """The control, and why the default is require: FreeTDS's 'off' sends even the login (password
    merely obfuscated) in clear; 'request' against a server that answers OFF encrypts the login only."""
    with RecordingProxy((emulator.host, emulator.port)) as proxy:
        use_connection(monkeypatch, proxy, emulator, encryption=encryption)
        with contextlib.closing(source_hook(CONN_ID).get_conn()) as conn:
            assert len(read_view(conn)) == SEED_ROWS
        wire = proxy.recorded()
    assert all(any(form in wire for form in clear_forms(value)) for value in row_values)
    assert (login7_obfuscated(PASSWORD) in wire) is password_in_clear


def test_documented_connection_verifies_and_carries_no_secret_or_row_in_clear(
    monkeypatch, emulator, test_ca, orders_db, row_values
):
    with RecordingProxy((emulator.host, emulator.port)) as proxy:
        # No "encryption" extra: the sync's default is require, as the documented connection says.
        use_connection(monkeypatch, proxy, emulator, ca_file=str(test_ca.cert))
        outcome = sync_through_hook(orders_db)
        wire = proxy.recorded()
    assert outcome.counts.inserted == SEED_ROWS
    assert len(wire) > 10_000  # the whole sync went through the proxy
    for secret in (*clear_forms(PASSWORD), login7_obfuscated(PASSWORD)):
        assert secret not in wire
    leaked = [value for value in row_values if any(form in wire for form in clear_forms(value))]
    assert leaked == []


def test_certificate_from_another_ca_is_refused_naming_the_reason(monkeypatch, emulator, tmp_path, orders_db):
    other_ca = CertificateAuthority.create(tmp_path / "other-ca", "another test CA")
    with RecordingProxy((emulator.host, emulator.port)) as proxy:
        use_connection(monkeypatch, proxy, emulator, encryption="require", ca_file=str(other_ca.cert))
        with pytest.raises(SourceCertificateError) as refused:
            source_hook(CONN_ID).get_conn()
        wire = proxy.recorded()
    assert "unable to get local issuer certificate" in str(refused.value)
    assert str(other_ca.cert) in str(refused.value)
    assert not refused.value.transient
    assert PASSWORD not in str(refused.value)
    assert login7_obfuscated(PASSWORD) not in wire  # refused before any login was sent


def test_host_name_not_in_the_certificate_is_refused(monkeypatch, test_ca, tmp_path):
    """A certificate from the trusted CA, but for another host name."""
    server = test_ca.issue_server_certificate(tmp_path / "elsewhere", ["sql.example.invalid"])
    with MssqlEmulator(password=PASSWORD, tls_cert=server.cert, tls_key=server.key) as emu:
        with RecordingProxy((emu.host, emu.port)) as proxy:
            use_connection(monkeypatch, proxy, emu, ca_file=str(test_ca.cert))
            with pytest.raises(
                SourceCertificateError, match="mismatch, certificate is not valid for '127.0.0.1'"
            ):
                source_hook(CONN_ID).get_conn()
            # Turning the host-name check off accepts the same certificate (the CA still checked).
            use_connection(
                monkeypatch, proxy, emu, ca_file=str(test_ca.cert), check_certificate_hostname=False
            )
            with contextlib.closing(source_hook(CONN_ID).get_conn()) as conn:
                cursor = conn.cursor()
                cursor.execute("SELECT encrypt_option FROM sys.dm_exec_connections WHERE session_id = @@SPID")
                assert cursor.fetchall() == [("TRUE",)]


def test_sync_error_for_a_refused_certificate_is_terminal(monkeypatch, emulator, tmp_path, orders_db):
    """Through the engine: the classified error reaches Airflow as a failure without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.sync_dag import airflow_errors

    other_ca = CertificateAuthority.create(tmp_path / "other-ca", "another test CA")
    with RecordingProxy((emulator.host, emulator.port)) as proxy:
        use_connection(monkeypatch, proxy, emulator, ca_file=str(other_ca.cert))
        with (
            pytest.raises(AirflowFailException, match="TLS certificate verification failed"),
            airflow_errors(),
        ):
            sync_through_hook(orders_db)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ca_file": "/nonexistent/ca.pem"}, "no readable file at /nonexistent/ca.pem"),
        ({"ca_file": "CA_FILE", "encryption": "request"}, "needs encryption 'require'"),
        ({"ca_file": "CA_FILE", "check_certificate_hostname": "perhaps"}, "must be true or false"),
    ],
)
def test_unusable_tls_extras_name_the_extra(monkeypatch, emulator, test_ca, extra, message):
    extra = {key: str(test_ca.cert) if value == "CA_FILE" else value for key, value in extra.items()}
    with RecordingProxy((emulator.host, emulator.port)) as proxy:
        use_connection(monkeypatch, proxy, emulator, **extra)
        with pytest.raises(SourceTlsSettingError, match=message) as refused:
            source_hook(CONN_ID).get_conn()
    assert not refused.value.transient
