"""Copy front-end packages installed by npm (package.json + package-lock.json) into safetrain/static/vendor.

Nothing is pasted into the repository: `npm ci` fetches the pinned versions, this script copies the files the
pages load. Run by `make assets` (part of `make run` and `make test`).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {
    "node_modules/htmx.org/dist/htmx.min.js": "htmx.min.js",
    "node_modules/hls.js/dist/hls.min.js": "hls.min.js",
    "node_modules/echarts/dist/echarts.min.js": "echarts.min.js",
}

SOURCE_MAP = re.compile(r"[#@] sourceMappingURL=([\w.-]+\.map)\b")


def main() -> int:
    target = ROOT / "safetrain" / "static" / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    missing = [src for src in FILES if not (ROOT / src).is_file()]
    if missing:
        print(f"missing {', '.join(missing)}: run `npm ci` first", file=sys.stderr)  # noqa: T201
        return 1
    for src, name in FILES.items():
        shutil.copyfile(ROOT / src, target / name)
        # collectstatic's manifest storage rewrites a file's source-map reference and fails when the map is absent.
        for ref in SOURCE_MAP.findall((ROOT / src).read_bytes()[-1000:].decode("utf-8", "replace")):
            shutil.copyfile((ROOT / src).parent / ref, target / ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
