"""TLS as SQL Server does it: PRELOGIN negotiation, the handshake inside PRELOGIN packets,
login-only and full-session encryption, TDS 8.0 strict, Force Encryption, and the certificate.

The wire-level tests use ``raw_tds`` (a client written from [MS-TDS] apart from the server) with
Python's own TLS client; the driver-level tests use pymssql (FreeTDS with OpenSSL).
"""

from __future__ import annotations

import ssl
from decimal import Decimal

import pymssql
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from devtools.certificates import CertificateAuthority
from devtools.mssql_emulator import EmulatorStartError, MssqlEmulator
from tests.emulator import raw_tds
from tests.emulator.login_errors import pymssql_login_error
from tests.emulator.raw_tds import ENCRYPT_NOT_SUP, ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_REQ

ENCRYPT_OPTION_SQL = "SELECT encrypt_option FROM sys.dm_exec_connections WHERE session_id = @@SPID"


def trusting_context() -> ssl.SSLContext:
    """TrustServerCertificate=yes: encrypt, check nothing about the certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def verifying_context(ca_file) -> ssl.SSLContext:
    """Encrypt=yes with a CA file: the chain and the host name are checked."""
    return ssl.create_default_context(cafile=str(ca_file))


@pytest.fixture(scope="module")
def forced_emulator():
    with MssqlEmulator(force_encryption=True) as emu:
        yield emu


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca"), "demo test CA")


@pytest.fixture(scope="module")
def ca_emulator(test_ca, tmp_path_factory):
    """An emulator presenting a certificate for localhost/127.0.0.1 signed by ``test_ca``."""
    server = test_ca.issue_server_certificate(tmp_path_factory.mktemp("server"), ["localhost", "127.0.0.1"])
    with MssqlEmulator(tls_cert=server.cert, tls_key=server.key) as emu:
        yield emu


def raw_client(emu) -> raw_tds.RawTdsClient:
    return raw_tds.RawTdsClient(emu.host, emu.port, timeout=15)


def assert_logged_in(response: bytes) -> None:
    assert bytes([raw_tds.LOGINACK_TOKEN]) in response
    assert not raw_tds.final_done_status(response) & raw_tds.DONE_ERROR


# --- negotiation ([MS-TDS] 2.2.6.5) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "answer"),
    [
        (ENCRYPT_OFF, ENCRYPT_OFF),
        (ENCRYPT_ON, ENCRYPT_ON),
        (ENCRYPT_REQ, ENCRYPT_ON),
        (ENCRYPT_NOT_SUP, ENCRYPT_NOT_SUP),
    ],
)
def test_prelogin_answer_offers_tls_as_sql_server_does(emulator, client, answer):
    conn = raw_client(emulator)
    try:
        assert conn.prelogin(client) == answer
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("client", "answer"),
    [(ENCRYPT_OFF, ENCRYPT_REQ), (ENCRYPT_ON, ENCRYPT_ON), (ENCRYPT_NOT_SUP, ENCRYPT_REQ)],
)
def test_force_encryption_answers_req(forced_emulator, client, answer):
    conn = raw_client(forced_emulator)
    try:
        assert conn.prelogin(client) == answer
    finally:
        conn.close()


def test_force_encryption_closes_a_client_that_cannot_encrypt(forced_emulator):
    conn = raw_client(forced_emulator)
    try:
        assert conn.prelogin(ENCRYPT_NOT_SUP) == ENCRYPT_REQ
        with pytest.raises(ConnectionError):
            conn.login7(forced_emulator.user, forced_emulator.password, forced_emulator.database)
    finally:
        conn.close()


# --- the handshake and what it protects ----------------------------------------------------------


def test_login_only_encryption_wraps_the_handshake_in_prelogin_packets_then_drops_tls(emulator):
    conn = raw_client(emulator)
    try:
        assert conn.prelogin(ENCRYPT_OFF) == ENCRYPT_OFF
        server_packet_types = conn.tls_in_prelogin(trusting_context())
        assert server_packet_types and set(server_packet_types) == {raw_tds.PRELOGIN}
        assert conn.tls.version() == "TLSv1.2"  # TDS 7.x: SQL Server keeps TLS 1.3 for TDS 8.0
        conn.send(
            raw_tds.LOGIN7, raw_tds.login7_payload(emulator.user, emulator.password, emulator.database, 4096)
        )
        conn.stop_tls()  # the answer to an encrypted LOGIN7 already comes in clear
        assert_logged_in(conn.read_message())
        conn.batch(ENCRYPT_OPTION_SQL)
        response = conn.read_message()
        assert "FALSE".encode("utf-16-le") in response
    finally:
        conn.close()


def test_full_encryption_carries_the_whole_session_in_tls(emulator):
    conn = raw_client(emulator)
    try:
        assert conn.prelogin(ENCRYPT_ON) == ENCRYPT_ON
        conn.tls_in_prelogin(trusting_context())
        assert_logged_in(conn.login7(emulator.user, emulator.password, emulator.database))
        conn.batch(ENCRYPT_OPTION_SQL)
        assert "TRUE".encode("utf-16-le") in conn.read_message()
    finally:
        conn.close()


def test_tds8_strict_starts_tls_before_prelogin_with_alpn(emulator):
    context = trusting_context()
    context.set_alpn_protocols(["tds/8.0"])
    conn = raw_client(emulator)
    try:
        conn.tls_first(context)
        assert conn.tls.selected_alpn_protocol() == "tds/8.0"
        assert conn.tls.version() == "TLSv1.3"
        conn.prelogin(ENCRYPT_NOT_SUP)  # inside TLS already: nothing more to negotiate
        assert_logged_in(conn.login7(emulator.user, emulator.password, emulator.database))
        conn.batch(ENCRYPT_OPTION_SQL)
        assert "TRUE".encode("utf-16-le") in conn.read_message()
    finally:
        conn.close()


TDS80 = 0x08000000  # LOGIN7 TDSVersion of TDS 8.0 ([MS-TDS] 2.2.6.4)


def test_tds8_login_is_served_inside_strict_tls_only(emulator):
    context = trusting_context()
    context.set_alpn_protocols(["tds/8.0"])
    conn = raw_client(emulator)
    try:
        conn.tls_first(context)
        conn.prelogin(ENCRYPT_NOT_SUP)
        assert_logged_in(conn.login7(emulator.user, emulator.password, emulator.database, TDS80))
    finally:
        conn.close()
    conn = raw_client(emulator)
    try:
        conn.prelogin(ENCRYPT_NOT_SUP)
        refused = conn.login7(emulator.user, emulator.password, emulator.database, TDS80)
        assert bytes([raw_tds.LOGINACK_TOKEN]) not in refused
        assert "0x08000000".encode("utf-16-le") in refused  # the refusal names the version
    finally:
        conn.close()


# --- the certificate -------------------------------------------------------------------------------


def test_default_certificate_is_self_signed_like_sql_servers_fallback(emulator):
    conn = raw_client(emulator)
    try:
        conn.prelogin(ENCRYPT_ON)
        conn.tls_in_prelogin(trusting_context())
        certificate = x509.load_der_x509_certificate(conn.tls.getpeercert(binary_form=True))
    finally:
        conn.close()
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "SSL_Self_Signed_Fallback"
    assert certificate.issuer == certificate.subject


def test_certificate_from_a_given_ca_verifies_with_that_ca_only(ca_emulator, test_ca, tmp_path):
    conn = raw_client(ca_emulator)
    try:
        conn.prelogin(ENCRYPT_ON)
        conn.tls_in_prelogin(verifying_context(test_ca.cert), server_hostname="localhost")
        assert_logged_in(conn.login7(ca_emulator.user, ca_emulator.password, ca_emulator.database))
    finally:
        conn.close()
    other_ca = CertificateAuthority.create(tmp_path / "other-ca", "another test CA")
    conn = raw_client(ca_emulator)
    try:
        conn.prelogin(ENCRYPT_ON)
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
            conn.tls_in_prelogin(verifying_context(other_ca.cert), server_hostname="localhost")
    finally:
        conn.close()
    conn = raw_client(ca_emulator)
    try:
        conn.prelogin(ENCRYPT_ON)
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            conn.tls_in_prelogin(verifying_context(test_ca.cert), server_hostname="sql.example.invalid")
    finally:
        conn.close()


def test_unreadable_certificate_stops_the_start_with_its_path(tmp_path):
    bad = tmp_path / "not-a-cert.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(EmulatorStartError, match="cannot load the TLS certificate .*not-a-cert.pem"):
        MssqlEmulator(tls_cert=bad, tls_key=bad, start_timeout=30).start()


# --- pymssql (FreeTDS) over each setting -------------------------------------------------------------


@pytest.mark.parametrize(
    ("encryption", "encrypt_option"), [("off", "FALSE"), ("request", "FALSE"), ("require", "TRUE")]
)
def test_pymssql_encryption_settings_and_what_the_server_reports(pymssql_connect, encryption, encrypt_option):
    cursor = pymssql_connect(encryption=encryption).cursor()
    cursor.execute(ENCRYPT_OPTION_SQL + "; SELECT N'Grüße 😀', CAST(12.345 AS decimal(5,3))")
    assert cursor.fetchall() == [(encrypt_option,)]
    assert cursor.nextset()
    assert [tuple(row) for row in cursor.fetchall()] == [("Grüße 😀", Decimal("12.345"))]


def test_pymssql_over_tls_gets_sql_servers_error_numbers(pymssql_connect, emulator):
    cursor = pymssql_connect(encryption="require").cursor()
    with pytest.raises(pymssql.ProgrammingError) as missing:
        cursor.execute("SELECT * FROM dbo.no_such_table")
    assert missing.value.args[0] == 208
    with pytest.raises(pymssql.ProgrammingError) as syntax:
        cursor.execute("SELECT FROM WHERE")
    assert syntax.value.args[0] == 102
    number, message = pymssql_login_error(emulator, encryption="require", password="not-the-password")
    assert (number, message.split(".")[0]) == (18456, f"Login failed for user '{emulator.user}'")


def test_force_encryption_refuses_pymssql_without_encryption(forced_emulator):
    with pytest.raises(pymssql.OperationalError):
        pymssql.connect(**forced_emulator.connect_kwargs(encryption="off", login_timeout=10))
    for encryption in ("request", "require"):
        conn = pymssql.connect(**forced_emulator.connect_kwargs(encryption=encryption, login_timeout=10))
        try:
            cursor = conn.cursor()
            cursor.execute(ENCRYPT_OPTION_SQL)
            assert cursor.fetchall() == [("TRUE",)], encryption
        finally:
            conn.close()
