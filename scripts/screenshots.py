"""`make screenshots`: every main page of every demo role at 1366×768 and at 390×844, for review.

Starts the demo as `make run` serves it (a fresh database in a temporary directory, seed_demo, granian, DEBUG off),
signs in as each role of the page crawl (tests/browser/crawl.py) and saves full-page PNGs under
var/screenshots/<role>/<size>-<page>.png (var/ is not committed). Also writes var/screenshots/index.txt, the pages
per role, and the crawl's findings (5xx, English text, sideways scrolling) at the end.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import launch  # noqa: E402
from tests.browser.crawl import ROLES, crawl_role  # noqa: E402
from tests.demo_server import start_demo_server  # noqa: E402

OUT = ROOT / "var" / "screenshots"


def file_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    index: list[str] = []
    findings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="safetrain-shots-") as workdir:
        sys.stdout.write("Starting the demo server (migrate, seed_demo)…\n")
        server = start_demo_server(Path(workdir))
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)

                def shoot(page, role: str, path: str, size: str) -> None:
                    target = OUT / role / f"{size}-{file_name(path)}.png"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(target), full_page=True)

                for role in ROLES:
                    crawl = crawl_role(browser, server.url, server.accounts, role, shoot=shoot)
                    sys.stdout.write(f"{role.key}: {len(crawl.pages)} pages\n")
                    index.append(f"[{role.key}]")
                    index.extend(f"  {path}" for path in crawl.pages)
                    findings.extend(str(p) for p in crawl.problems)
                browser.close()
        finally:
            server.process.terminate()
            server.process.wait(timeout=20)
    (OUT / "index.txt").write_text("\n".join(index + ["", "Findings:", *findings]) + "\n", encoding="utf-8")
    sys.stdout.write(f"Saved to {OUT} ({len(findings)} findings, see index.txt)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
