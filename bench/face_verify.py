"""Time of one face enrolment and one verification with the built-in dlib provider (issue 5).

    .venv/bin/python bench/face_verify.py --repeat 10

Reads the test photos in place (../shared/testdata/faces, or SAFETRAIN_TESTDATA_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    faces = Path(os.environ.get("SAFETRAIN_TESTDATA_DIR", ROOT.parent / "shared" / "testdata")) / "faces"
    from safetrain.proctoring.engine import DlibProvider

    engine = DlibProvider()
    started = time.perf_counter()
    template = engine.enrol((faces / "obama.jpg").read_bytes()).template  # includes loading the models
    first = time.perf_counter() - started
    timings: dict[str, list[float]] = {}
    for name in ("obama2.jpg", "obama3.jpg", "biden.jpg"):
        data = (faces / name).read_bytes()
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = engine.verify(template, [data])
            runs.append((time.perf_counter() - t) * 1000)
        timings[f"{name} (match={result.match}, distance={result.distance})"] = runs
    # A whole check as the page sends it: five 640 x 480 camera frames with the head-turn challenge.
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    django.setup()
    from safetrain.proctoring.tests.camera import TURN, camera_frame

    frames = [camera_frame(n) for n in TURN]
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = engine.verify(template, frames, challenge="turn")
        runs.append((time.perf_counter() - t) * 1000)
    timings[f"check of 5 camera frames, turn (match={result.match}, liveness={result.liveness})"] = runs
    # Reference in the same run: every frame searched upsampled (the engine does it for the first and last only).
    fast_one_face = engine._one_face
    engine._one_face = lambda data, thorough=True: fast_one_face(data, thorough=True)
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        engine.verify(template, frames, challenge="turn")
        runs.append((time.perf_counter() - t) * 1000)
    engine._one_face = fast_one_face
    timings["reference: the same check with every frame searched upsampled"] = runs
    report = {"first_enrolment_with_model_load_ms": round(first * 1000, 1)}
    report.update(
        {
            k: {"median_ms": round(statistics.median(v), 1), "min_ms": round(min(v), 1)}
            for k, v in timings.items()
        }
    )
    print(json.dumps(report, indent=1))  # noqa: T201 - the report is the output
    return 0


if __name__ == "__main__":
    sys.exit(main())
