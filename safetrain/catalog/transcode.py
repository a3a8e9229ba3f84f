"""ffmpeg/ffprobe wrapper for the video pipeline (CAT-05): probe a file, cut HLS renditions, take a poster.

No database here: `services.video_transcode` drives it and stores the output. H.264 + AAC in MPEG-TS segments,
the combination every browser plays through hls.js and iOS Safari natively.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
FFPROBE = shutil.which("ffprobe") or "/usr/bin/ffprobe"


@dataclass(frozen=True)
class Rendition:
    name: str  # folder name
    label: str  # what the learner picks: 流畅 / 标清 / 高清
    height: int
    video_kbps: int
    audio_kbps: int

    @property
    def bandwidth(self) -> int:
        return (self.video_kbps + self.audio_kbps) * 1000 * 11 // 10  # peak with container overhead


RENDITIONS = (
    Rendition("360p", "流畅", 360, 600, 64),
    Rendition("480p", "标清", 480, 1000, 96),
    Rendition("720p", "高清", 720, 2200, 128),
)
SEGMENT_SECONDS = 6


class TranscodeError(Exception):
    """The file is not a usable video, or ffmpeg failed; `str()` is for the operator."""


@dataclass(frozen=True)
class Probe:
    duration: float
    width: int
    height: int
    has_audio: bool


def probe(path: Path, timeout: int = 60) -> Probe:
    try:
        result = subprocess.run(
            [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError("ffprobe timed out reading the file") from exc
    if result.returncode != 0:
        raise TranscodeError(f"not a readable media file ({result.stderr.strip()[:200] or 'ffprobe failed'})")
    data = json.loads(result.stdout or "{}")
    streams = data.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and s.get("disposition", {}).get("attached_pic", 0) == 0
        ),
        None,
    )
    if video is None:
        raise TranscodeError("the file has no video stream")
    try:
        duration = float(data.get("format", {}).get("duration") or video.get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0:
        raise TranscodeError("the video has no duration")
    return Probe(
        duration,
        int(video.get("width") or 0),
        int(video.get("height") or 0),
        any(s.get("codec_type") == "audio" for s in streams),
    )


def _run(
    args: list[str], *, duration: float, on_progress: Callable[[float], None] | None, timeout: int
) -> None:
    """Run ffmpeg with `-progress pipe:1`, reporting the fraction done."""
    process = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-progress", "pipe:1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if on_progress and line.startswith("out_time_us=") and duration > 0:
                value = line.split("=", 1)[1].strip()
                if value.isdigit():
                    on_progress(min(1.0, int(value) / 1_000_000 / duration))
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        raise TranscodeError("ffmpeg timed out") from exc
    if process.returncode != 0:
        raise TranscodeError(f"ffmpeg failed: {stderr.strip()[-300:]}")


def hls_rendition(
    source: Path,
    out_dir: Path,
    rendition: Rendition,
    info: Probe,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout: int = 3600,
) -> None:
    """One rendition: scaled to its height (width even, aspect kept), fixed GOP for clean segment cuts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gop = 2 * 25
    audio = (
        ["-c:a", "aac", "-b:a", f"{rendition.audio_kbps}k", "-ac", "2", "-ar", "44100"]
        if info.has_audio
        else ["-an"]
    )
    _run(
        [
            "-i",
            str(source),
            "-vf",
            f"scale=-2:{rendition.height},format=yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "main",
            "-b:v",
            f"{rendition.video_kbps}k",
            "-maxrate",
            f"{rendition.video_kbps * 11 // 10}k",
            "-bufsize",
            f"{rendition.video_kbps * 2}k",
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-r",
            "25",
            *audio,
            "-f",
            "hls",
            "-hls_time",
            str(SEGMENT_SECONDS),
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            str(out_dir / "seg_%04d.ts"),
            str(out_dir / "index.m3u8"),
        ],
        duration=info.duration,
        on_progress=on_progress,
        timeout=timeout,
    )


def poster(source: Path, target: Path, info: Probe) -> None:
    at = min(1.0, info.duration / 2)
    _run(
        ["-ss", f"{at:.2f}", "-i", str(source), "-frames:v", "1", "-vf", "scale=-2:360", str(target)],
        duration=0,
        on_progress=None,
        timeout=120,
    )


def master_playlist(renditions: list[tuple[Rendition, int]], has_audio: bool) -> str:
    """The master playlist; `renditions` pairs each rendition with its real output width."""
    codecs = "avc1.4d401f,mp4a.40.2" if has_audio else "avc1.4d401f"
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for rendition, width in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},RESOLUTION={width}x{rendition.height},"
            f'CODECS="{codecs}",NAME="{rendition.label}"'
        )
        lines.append(f"{rendition.name}/index.m3u8")
    return "\n".join(lines) + "\n"


def make_test_clip(
    target: Path, seconds: int = 8, size: str = "640x360", pattern: str = "testsrc", tone: int = 440
) -> Path:
    """A short clip made by ffmpeg itself (testsrc + sine): for tests and demo data, nothing downloaded."""
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"{pattern}=size={size}:rate=25:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={tone}:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(target),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target
