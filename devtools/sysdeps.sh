#!/usr/bin/env bash
# Installs the Debian packages the demo and tests use, if they are missing.
# PostgreSQL server binaries, FreeTDS's tsql, Chromium for the browser test, and pgloader
# (a benchmark contender, and proof that a third-party TDS tool reads the emulator); the
# emulator's peer clients: unixODBC with FreeTDS's ODBC driver (pyodbc) and tds_fdw.
# redis-server and curl: the Celery broker and the compose healthchecks (tests/deployment).
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v tsql >/dev/null || missing+=(freetds-bin)
command -v chromium >/dev/null || missing+=(chromium)
command -v pgloader >/dev/null || missing+=(pgloader)
command -v runuser >/dev/null || missing+=(util-linux)
# Emulator peer clients: pyodbc's driver manager and FreeTDS ODBC driver, and tds_fdw in PostgreSQL.
ldconfig -p | grep 'libodbc\.so\.2 ' >/dev/null || missing+=(unixodbc)
compgen -G "/usr/lib/*/odbc/libtdsodbc.so" >/dev/null || missing+=(tdsodbc)
compgen -G "/usr/share/postgresql/15/extension/tds_fdw.control" >/dev/null || missing+=(postgresql-15-tds-fdw)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
