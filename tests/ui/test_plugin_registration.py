"""Airflow's plugin manager finds the plugin: its FastAPI app and the "Sync status" nav entry."""

from __future__ import annotations

import sys

from airflow import plugins_manager


def test_plugin_mounts_the_app_and_adds_the_nav_entry():
    plugins, import_errors = plugins_manager._get_plugins()
    assert import_errors == {}
    (plugin,) = [p for p in plugins if p.name == "sync_status"]
    (app,) = plugin.fastapi_apps
    assert app["url_prefix"] == "/sync-status"
    assert {route.path for route in app["app"].routes} >= {"/", "/api/status"}

    external_views, _ = plugins_manager._get_ui_plugins()
    (view,) = [v for v in external_views if v["name"] == "Sync status"]
    assert view == {
        "name": "Sync status",
        "href": "/sync-status/",
        "destination": "nav",
        "url_route": "sync-status",
        "category": "browse",
    }


def test_the_package_is_not_loaded_file_by_file():
    """.airflowignore keeps the loader from importing sync_status/*.py as top-level modules."""
    plugins_manager._get_plugins()
    assert not {"app", "page", "status_data", "run_chart", "__init__"} & set(sys.modules)
