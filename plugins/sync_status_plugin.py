"""Airflow plugin: the "Sync status" page in the Airflow UI and its JSON endpoint.

The API server mounts the FastAPI app under ``/sync-status``; the external view puts
"Sync status" into the navigation, shown inside the Airflow UI at ``/plugin/sync-status``.
The package ``sync_status`` next to this file holds the app (it is listed in ``.airflowignore``
so the plugin loader imports it as a package, not file by file).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from sync_status.app import create_app

URL_PREFIX = "/sync-status"


class SyncStatusPlugin(AirflowPlugin):
    name = "sync_status"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Sync status"}]
    external_views = [
        {
            "name": "Sync status",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "sync-status",
            "category": "browse",
        }
    ]
