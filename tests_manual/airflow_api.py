"""Airflow's REST API for the checks: a JWT from ``/auth/token``, then plain GETs.

Embedded: the stack's own API server, started here with the simple auth manager in
"all admins" mode, where ``GET /auth/token`` hands out a token without credentials. A deployment:
``AIRFLOW_API_URL`` (e.g. ``http://localhost:8080``) with ``AIRFLOW_API_USER`` and
``AIRFLOW_API_PASSWORD``, posted to ``/auth/token`` as the simple and FAB auth managers expect.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx

URL_VARIABLE, USER_VARIABLE, PASSWORD_VARIABLE = "AIRFLOW_API_URL", "AIRFLOW_API_USER", "AIRFLOW_API_PASSWORD"


class AirflowApi:
    def __init__(self, base_url: str, username: str | None = None, password: str | None = None):
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=30)
        if username:
            response = self._client.post("/auth/token", json={"username": username, "password": password})
        else:
            response = self._client.get("/auth/token")
        response.raise_for_status()
        self._client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self._client.get(path, params=params)

    def dag_runs(self, dag_id: str, limit: int = 25, **filters: Any) -> list[dict[str, Any]]:
        """The newest runs of ``dag_id`` first (``/api/v2/dags/{dag_id}/dagRuns``)."""
        response = self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="-run_after", limit=limit, **filters)
        response.raise_for_status()
        return response.json()["dag_runs"]

    def close(self) -> None:
        self._client.close()


def api_from_environment() -> AirflowApi | None:
    """The deployment's API when ``AIRFLOW_API_URL`` is set, else None."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        return None
    return AirflowApi(url, os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE))


@contextlib.contextmanager
def embedded_airflow(
    stack, services=("api-server",), extra_env: dict[str, str] | None = None
) -> Iterator[AirflowApi]:
    """Airflow services of the embedded stack (``devtools.airflow_services``), and their API."""
    from devtools.airflow_services import AirflowServices

    env = {
        **stack.env(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        **(extra_env or {}),
    }
    with AirflowServices(env, stack.home / "service-logs") as running:
        for name in services:
            running.start(name)
        running.wait_for_api()
        api = AirflowApi(f"http://{running.host}:{running.api_port}")
        api.services = running
        try:
            yield api
        finally:
            api.close()
