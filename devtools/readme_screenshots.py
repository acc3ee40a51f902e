"""The README's screenshots, taken with headless Chromium from a running `make up`.

    make up                                    # in one terminal; wait for a few runs
    .venv/bin/python -m devtools.readme_screenshots --url http://127.0.0.1:8080/

Logs in through the UI's login form like a person would, then saves the DAG's grid view and the
Sync status page under docs/images/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from devtools.stack import DEMO_PASSWORD, DEMO_USER, REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
# Running as root in a container needs --no-sandbox; the rest keeps Chromium off the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMAGES = REPO_ROOT / "docs" / "images"
DAG_ID = "sync_open_orders"


def take_screenshots(base_url: str, images: Path = IMAGES) -> list[Path]:
    from playwright.sync_api import sync_playwright

    base_url = base_url.rstrip("/")
    images.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="oos-chromium-"))
    saved = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                user_data_dir=str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 900},
            )
            browser.set_default_timeout(60_000)
            page = browser.new_page()
            page.goto(f"{base_url}/")
            page.fill("input[name=username]", DEMO_USER)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.press("input[name=password]", "Enter")
            page.wait_for_url(lambda url: "/auth/login" not in url)

            # The DAG's page: the grid of runs and tasks on the left, the run overview beside it.
            page.goto(f"{base_url}/dags/{DAG_ID}")
            page.get_by_text("validate", exact=True).first.wait_for()
            page.wait_for_timeout(2_000)  # the grid's bars fill in after the task list
            saved.append(images / "airflow-grid.png")
            page.screenshot(path=str(saved[-1]))

            page.goto(f"{base_url}/plugin/sync-status")
            page.frame_locator("iframe").get_by_text("open_orders").first.wait_for()
            page.wait_for_timeout(1_000)
            saved.append(images / "sync-status-page.png")
            page.screenshot(path=str(saved[-1]))
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/", help="the UI that make up printed")
    args = parser.parse_args(argv)
    for path in take_screenshots(args.url):
        print(f"saved {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
