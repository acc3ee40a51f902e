"""Run the SQL Server emulator: ``python -m devtools.mssql_emulator --port 1433 ...``.

Prints one line, ``listening on HOST:PORT``, once it accepts connections, and runs until
SIGTERM or SIGINT. The password may come from ``MSSQL_EMULATOR_PASSWORD`` instead of
``--password`` so it stays off command lines.

TLS is always offered, as SQL Server does: with the certificate and key given by
``--tls-cert``/``--tls-key`` (PEM files), or a self-signed certificate made at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

PASSWORD_ENV = "MSSQL_EMULATOR_PASSWORD"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.mssql_emulator",
        description="A SQL Server (TDS 7.4) emulator on DuckDB.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1433, help="0 = any free port")
    parser.add_argument("--user", default="sa")
    parser.add_argument("--password", default=None, help=f"login password (default: ${PASSWORD_ENV})")
    parser.add_argument("--database", default="master", help="database of logins that name none")
    parser.add_argument("--tls-cert", default=None, help="PEM certificate (chain) the server presents")
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--force-encryption",
        action="store_true",
        help='refuse clients that do not encrypt, as SQL Server with "Force Encryption" does',
    )
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--cache-mb", type=int, default=None, help="MiB of encoded results kept for replay (default 512)"
    )
    args = parser.parse_args(argv)
    if args.password is None:
        args.password = os.environ.get(PASSWORD_ENV)
    if not args.password:
        parser.error(f"give --password or set {PASSWORD_ENV}")
    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key needs --tls-cert")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s",
    )
    from devtools.mssql_emulator.result_cache import DEFAULT_CACHE_BYTES
    from devtools.mssql_emulator.server import EmulatorServer
    from devtools.mssql_emulator.tls import ServerTls

    try:
        server_tls = ServerTls(args.tls_cert, args.tls_key)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        print(f"cannot load the TLS certificate {args.tls_cert}: {exc}", file=sys.stderr)
        return 2
    server = EmulatorServer(
        host=args.host,
        port=args.port,
        user=args.user,
        password=args.password,
        database=args.database,
        server_tls=server_tls,
        force_encryption=args.force_encryption,
        cache_bytes=args.cache_mb * 2**20 if args.cache_mb is not None else DEFAULT_CACHE_BYTES,
    )
    stop = threading.Event()

    def request_stop(signum, _frame):
        logging.getLogger("devtools.mssql_emulator").info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"listening on {server.host}:{server.port}", flush=True)
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
