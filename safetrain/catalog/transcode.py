"""ffmpeg/ffprobe wrapper for the video pipeline (CAT-05): probe a file, cut HLS renditions, take a poster.

No database here: `services.video_transcode` drives it and stores the output. H.264 + AAC in MPEG-TS segments,
the combination every browser plays through hls.js and iOS Safari natively.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
import threading
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
# H.264 Main profile, level 4.0: covers 1280x720 (and odd-sized sources scaled to it) at 25 fps on every phone.
H264_LEVEL = "4.0"
H264_CODECS = "avc1.4d4028"


class TranscodeError(Exception):
    """The file is not a usable video, or ffmpeg failed; `str()` is for the operator."""


@dataclass(frozen=True)
class Probe:
    duration: float
    width: int  # as displayed (rotation applied)
    height: int
    has_audio: bool

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


# Containers an uploaded video may come in (ffprobe's format names). Playlists, images and anything that could
# make ffmpeg open other files or URLs are refused.
ALLOWED_FORMATS = frozenset(
    {
        "mov",
        "mp4",
        "m4a",
        "3gp",
        "3g2",
        "mj2",
        "matroska",
        "webm",
        "avi",
        "flv",
        "mpegts",
        "mpeg",
        "asf",
        "mpegvideo",
        "h264",
        "hevc",
    }
)
# Inputs are local files only: no http, no concat of other files.
INPUT_PROTOCOLS = ["-protocol_whitelist", "file,pipe"]
HLS_INPUT_PROTOCOLS = ["-protocol_whitelist", "file"]


def _rotation(stream: dict) -> int:
    for item in stream.get("side_data_list", []) or []:
        if "rotation" in item:
            return int(float(item["rotation"])) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate and rotate.lstrip("-").isdigit() else 0


def probe(path: Path, timeout: int = 60, *, playlist: bool = False) -> Probe:
    """Read duration, displayed size and audio presence; refuse files that are not a video container.

    `playlist=True` reads our own HLS output (an m3u8), which uploads may never be."""
    protocols = HLS_INPUT_PROTOCOLS if playlist else INPUT_PROTOCOLS
    try:
        result = subprocess.run(
            [
                FFPROBE,
                "-v",
                "error",
                *protocols,
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                str(path),
            ],
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
    fmt = data.get("format", {})
    formats = set((fmt.get("format_name") or "").split(","))
    if not playlist and not formats & ALLOWED_FORMATS:
        raise TranscodeError(f"unsupported container format ({fmt.get('format_name') or 'unknown'})")
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
        duration = float(fmt.get("duration") or video.get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0 or math.isnan(duration):
        raise TranscodeError("the video has no duration")
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise TranscodeError("the video has no picture size")
    if _rotation(video) in (90, 270):
        width, height = height, width
    return Probe(duration, width, height, any(s.get("codec_type") == "audio" for s in streams))


def _run(
    args: list[str], *, duration: float, on_progress: Callable[[float], None] | None, timeout: int
) -> None:
    """Run ffmpeg with `-progress pipe:1`, reporting the fraction done; killed when `timeout` seconds pass.

    ffmpeg's log goes to a temporary file (never an unread pipe that could fill up and block it)."""
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-progress", "pipe:1", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if on_progress and line.startswith("out_time_us=") and duration > 0:
                    value = line.split("=", 1)[1].strip()
                    if value.isdigit():
                        on_progress(min(1.0, int(value) / 1_000_000 / duration))
            process.wait()
        finally:
            timer.cancel()
        if process.returncode != 0:
            log.seek(0)
            tail = log.read()[-300:].strip()
            if process.returncode < 0:
                raise TranscodeError(f"ffmpeg stopped after {timeout} s (time limit)")
            raise TranscodeError(f"ffmpeg failed: {tail}")


def renditions_for(info: Probe) -> tuple[Rendition, ...]:
    """The renditions worth making: none above the source's own size (no upscaling), at least the lowest."""
    fitting = tuple(r for r in RENDITIONS if r.height <= info.short_side)
    return fitting or RENDITIONS[:1]


def hls_rendition(
    source: Path,
    out_dir: Path,
    rendition: Rendition,
    info: Probe,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout: int | None = None,
) -> None:
    """One rendition: the short side scaled to the rendition's height (portrait stays portrait, even sizes), fixed
    GOP for clean segment cuts, output bounded to the probed duration."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gop = 2 * 25
    h = rendition.height
    scale = f"scale='if(gte(iw,ih),-2,{h})':'if(gte(iw,ih),{h},-2)',format=yuv420p"
    audio = (
        ["-c:a", "aac", "-b:a", f"{rendition.audio_kbps}k", "-ac", "2", "-ar", "44100"]
        if info.has_audio
        else ["-an"]
    )
    _run(
        [
            *INPUT_PROTOCOLS,
            "-i",
            str(source),
            "-t",
            f"{info.duration + 1:.3f}",
            "-vf",
            scale,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "main",
            "-level:v",
            H264_LEVEL,
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
            "-hls_flags",
            "independent_segments",
            "-hls_segment_filename",
            str(out_dir / "seg_%04d.ts"),
            str(out_dir / "index.m3u8"),
        ],
        duration=info.duration,
        on_progress=on_progress,
        timeout=timeout or max(300, int(info.duration * 4)),
    )


def measured_bandwidth(out_dir: Path) -> tuple[int, int]:
    """(peak, average) bits per second of a rendition, measured from its segments and their durations."""
    playlist = (out_dir / "index.m3u8").read_text(encoding="utf-8").splitlines()
    peak = total_bits = 0
    total_seconds = 0.0
    for i, line in enumerate(playlist):
        match = re.match(r"#EXTINF:([\d.]+)", line)
        if match and i + 1 < len(playlist):
            seconds = float(match[1]) or 0.001
            bits = (out_dir / playlist[i + 1].strip()).stat().st_size * 8
            peak = max(peak, math.ceil(bits / seconds))
            total_bits += bits
            total_seconds += seconds
    return peak, math.ceil(total_bits / total_seconds) if total_seconds else peak


def poster(source: Path, target: Path, info: Probe) -> None:
    at = min(1.0, info.duration / 2)
    _run(
        ["-ss", f"{at:.2f}", "-i", str(source), "-frames:v", "1", "-vf", "scale=-2:360", str(target)],
        duration=0,
        on_progress=None,
        timeout=120,
    )


def master_playlist(renditions: list[tuple[Rendition, int, int, int, int]], has_audio: bool) -> str:
    """The master playlist from (rendition, width, height, peak bps, average bps) of each real output."""
    codecs = f"{H264_CODECS},mp4a.40.2" if has_audio else H264_CODECS
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition, width, height, peak, average in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},RESOLUTION={width}x{height},"
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
