"""The target connection with ``sslmode=verify-full``, against the embedded PostgreSQL with TLS on.

The connection is the documented one (docs/deployment.md), read by Airflow's PostgresHook,
which hands ``sslmode`` and ``sslrootcert`` to libpq.
"""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import psycopg
import pytest

from devtools.certificates import CertificateAuthority
from devtools.embedded_postgres import EmbeddedPostgres

CONN_ID = "postgres_tls_probe"
SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    return CertificateAuthority.create(tmp_path_factory.mktemp("pg-ca"), "demo test CA")


@pytest.fixture(scope="module")
def tls_postgres(test_ca, tmp_path_factory):
    """A PostgreSQL whose certificate names 127.0.0.1 only, signed by ``test_ca``."""
    server = test_ca.issue_server_certificate(tmp_path_factory.mktemp("pg-server"), ["127.0.0.1"])
    with EmbeddedPostgres(databases=("orders",), tls=server) as postgres:
        yield postgres


def use_connection(monkeypatch, postgres, host: str, root_cert) -> None:
    uri = (
        f"postgresql://{postgres.user}:{quote(postgres.password)}@{host}:{postgres.port}/orders"
        f"?sslmode=verify-full&sslrootcert={quote(str(root_cert))}"
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", uri)


def connect_through_hook():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=CONN_ID).get_conn()


def test_verify_full_with_the_right_ca_connects_encrypted(monkeypatch, tls_postgres, test_ca):
    use_connection(monkeypatch, tls_postgres, "127.0.0.1", test_ca.cert)
    with contextlib.closing(connect_through_hook()) as conn:
        assert conn.execute(SSL_IN_USE).fetchone() == (True,)


def test_verify_full_refuses_a_certificate_from_another_ca(monkeypatch, tls_postgres, tmp_path):
    other_ca = CertificateAuthority.create(tmp_path / "other-ca", "another test CA")
    use_connection(monkeypatch, tls_postgres, "127.0.0.1", other_ca.cert)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        connect_through_hook()


def test_verify_full_refuses_a_host_name_the_certificate_does_not_name(monkeypatch, tls_postgres, test_ca):
    use_connection(monkeypatch, tls_postgres, "localhost", test_ca.cert)
    with pytest.raises(psycopg.OperationalError, match='does not match host name "localhost"'):
        connect_through_hook()


def test_plain_postgres_cannot_satisfy_verify_full(monkeypatch, postgres, test_ca):
    """The control: the session's PostgreSQL has no TLS, and verify-full will not fall back."""
    use_connection(monkeypatch, postgres, "127.0.0.1", test_ca.cert)
    with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
        connect_through_hook()
