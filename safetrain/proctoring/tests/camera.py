"""Camera pictures made from the test photos (../shared/testdata/faces): what a front camera would send.

A photo is cropped around its face to a 4:3 frame of 640 x 480, like a phone's front camera picture. Two photos of
the same person at different head angles (obama2.jpg looks to one side, obama3.jpg to the other) in sequence are
what a camera sees during a head turn: a real turn of a real face, not a still image.
"""

from __future__ import annotations

import base64
import io
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from PIL import Image

from safetrain.proctoring.engine import DlibProvider
from safetrain.proctoring.tests.test_engine import photo

WIDTH, HEIGHT = 640, 480


@cache
def camera_frame(name: str) -> bytes:
    image = Image.open(io.BytesIO(photo(name))).convert("RGB")
    image.thumbnail((1000, 1000))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    left, top, right, bottom = DlibProvider().analyse(buffer.getvalue())[0]["box"]
    cx, cy = (left + right) / 2, (top + bottom) / 2
    height = (bottom - top) * 2.4  # head and shoulders, as a learner sits in front of a phone
    width = height * WIDTH / HEIGHT
    box = (int(cx - width / 2), int(cy - height / 2), int(cx + width / 2), int(cy + height / 2))
    frame = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), (40, 40, 40))
    frame.paste(image.crop(box), (0, 0))
    frame = frame.resize((WIDTH, HEIGHT))
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=85)
    return out.getvalue()


def frames_b64(*names: str) -> list[str]:
    return [base64.b64encode(camera_frame(name)).decode() for name in names]


TURN = ("obama2.jpg", "obama3.jpg", "obama2.jpg", "obama3.jpg", "obama2.jpg")  # A turning the head


def y4m_clip(names: tuple[str, ...], path: Path, seconds_each: float = 0.4) -> Path:
    """A Y4M clip for Chromium's fake camera (--use-file-for-fake-video-capture) showing the photos in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        lines = []
        for i, name in enumerate(names):
            still = Path(tmp) / f"{i}.jpg"
            still.write_bytes(camera_frame(name))
            lines += [f"file '{still}'", f"duration {seconds_each}"]
        lines.append(f"file '{Path(tmp) / f'{len(names) - 1}.jpg'}'")
        listing.write_text("\n".join(lines) + "\n")
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-vf",
                "fps=10,format=yuv420p",
                str(path),
            ],
            check=True,
            timeout=120,
        )
    return path


@cache
def id_photo(name: str) -> bytes:
    """A one-inch ID photo (295 x 412) cropped around the face of a test photo."""
    image = Image.open(io.BytesIO(photo(name))).convert("RGB")
    image.thumbnail((1000, 1000))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    left, top, right, bottom = DlibProvider().analyse(buffer.getvalue())[0]["box"]
    cx, cy = (left + right) / 2, (top + bottom) / 2
    height = (bottom - top) * 2.0
    width = height * 295 / 412
    frame = image.crop((int(cx - width / 2), int(cy - height / 2), int(cx + width / 2), int(cy + height / 2)))
    out = io.BytesIO()
    frame.resize((295, 412)).save(out, "JPEG", quality=90)
    return out.getvalue()
