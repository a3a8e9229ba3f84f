"""The face engine (FACE-05): one provider interface, a built-in provider on dlib's models.

The built-in provider uses dlib's HOG face detector, the 68-point landmark model and the ResNet face descriptor
(128-d), whose weights ship in the PyPI package `face-recognition-models` (nothing is downloaded at run time).
It answers one question: is this the enrolled person (and a live one)? It never credits time.

Thresholds (how they were chosen): on the test photos, the same person measures 0.36-0.38 and different people
0.78-0.86 (Euclidean distance between descriptors); dlib's documented operating point is 0.6. We use 0.5, which
keeps a wide margin from both clusters and errs on the side of refusing an impostor.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MATCH_THRESHOLD = 0.5
MIN_FACE_PIXELS = 80  # a face box smaller than this (on the analysed image) is too far away to judge
MAX_SIDE = 1000  # images are scaled down to this before detection: same accuracy for portraits, 3-5x faster
BLINK_CLOSED_EAR = 0.20  # eye aspect ratio of a closed eye
BLINK_OPEN_EAR = 0.25
TURN_MIN_CHANGE = (
    0.12  # change of the nose's horizontal position between the eyes, as a share of eye distance
)
STILL_MAX_MOTION = (
    0.004  # landmarks moving less than this share of the face size: the frames are one still image
)


class Reason:
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    DIFFERENT_PERSON = "different_person"
    NOT_LIVE = "not_live"
    UNREADABLE = "unreadable_image"


@dataclass(frozen=True)
class FaceEnrolment:
    template: list[float]
    face_box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Verification:
    match: bool
    distance: float | None
    faces_found: int
    liveness: bool | None
    reason: str = ""
    per_frame: list[dict] = field(default_factory=list)


class FaceError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class FaceProvider(Protocol):
    def enrol(self, image: bytes) -> FaceEnrolment: ...

    def describe_all(self, image: bytes) -> list[FaceEnrolment]:
        """Every face in a (group) photo with its descriptor and box (FACE-06)."""
        ...

    def verify(
        self, template: list[float], frames: list[bytes], *, challenge: str | None = None
    ) -> Verification: ...


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package face-recognition-models is not installed")
    return Path(spec.submodule_search_locations[0]) / "models"


class DlibProvider:
    """The built-in provider. Models load once per process; dlib's calls are serialised by a lock."""

    _lock = threading.Lock()
    _loaded: tuple | None = None

    def _models(self) -> tuple:
        if DlibProvider._loaded is None:
            import dlib

            models = _models_dir()
            DlibProvider._loaded = (
                dlib.get_frontal_face_detector(),
                dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat")),
                dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")),
            )
        return DlibProvider._loaded

    @staticmethod
    def _image(data: bytes) -> np.ndarray:
        try:
            image = Image.open(io.BytesIO(data))
            image = ImageOps.exif_transpose(image).convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise FaceError(Reason.UNREADABLE, "the image cannot be read") from exc
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        return np.asarray(image)

    def _faces(self, pixels: np.ndarray, thorough: bool) -> list:
        detector, predictor, _ = self._models()
        # A learner in front of a camera has a large face: detection without upsampling finds it at a quarter of
        # the cost, with upsampling as the fallback. A thorough search (enrolment, group photos, the first and last
        # frame of a check) is always upsampled, so that small faces are found too.
        found = detector(pixels, 1) if thorough else (detector(pixels, 0) or detector(pixels, 1))
        return [(rect, predictor(pixels, rect)) for rect in found]

    def analyse(self, data: bytes, *, thorough: bool = False) -> list[dict]:
        """Every face in an image: box, landmarks, descriptor."""
        pixels = self._image(data)
        with self._lock:
            faces = self._faces(pixels, thorough)
            _, _, recogniser = self._models()
            result = []
            for rect, shape in faces:
                points = np.array([[p.x, p.y] for p in shape.parts()], dtype=float)
                descriptor = np.array(recogniser.compute_face_descriptor(pixels, shape))
                result.append(
                    {
                        "box": (rect.left(), rect.top(), rect.right(), rect.bottom()),
                        "landmarks": points,
                        "descriptor": descriptor,
                    }
                )
        return result

    def _one_face(self, data: bytes, *, thorough: bool = True) -> dict:
        faces = self.analyse(data, thorough=thorough)
        if not faces:
            raise FaceError(Reason.NO_FACE)
        if len(faces) > 1:
            raise FaceError(Reason.MULTIPLE_FACES)
        left, top, right, bottom = faces[0]["box"]
        if min(right - left, bottom - top) < MIN_FACE_PIXELS:
            raise FaceError(Reason.FACE_TOO_SMALL)
        return faces[0]

    def describe_all(self, image: bytes) -> list[FaceEnrolment]:
        return [
            FaceEnrolment([float(x) for x in f["descriptor"]], tuple(int(v) for v in f["box"]))
            for f in self.analyse(image, thorough=True)
        ]

    def enrol(self, image: bytes) -> FaceEnrolment:
        face = self._one_face(image)
        return FaceEnrolment([float(x) for x in face["descriptor"]], tuple(int(v) for v in face["box"]))

    def verify(
        self, template: list[float], frames: list[bytes], *, challenge: str | None = None
    ) -> Verification:
        reference = np.array(template)
        analysed: list[dict] = []
        for i, frame in enumerate(frames):
            try:
                # The first and last frames are searched thoroughly (upsampled), so a smaller second face beside
                # the learner is found; the frames between only need the learner's own, large face.
                face = self._one_face(frame, thorough=i in (0, len(frames) - 1))
            except FaceError as exc:
                return Verification(
                    False,
                    None,
                    0 if exc.reason == Reason.NO_FACE else 2,
                    None,
                    exc.reason,
                    [{"reason": exc.reason}],
                )
            analysed.append(face)
        distances = [float(np.linalg.norm(f["descriptor"] - reference)) for f in analysed]
        worst = max(distances)
        per_frame = [{"distance": round(d, 4)} for d in distances]
        if worst > MATCH_THRESHOLD:
            return Verification(False, round(worst, 4), 1, None, Reason.DIFFERENT_PERSON, per_frame)
        live = liveness([f["landmarks"] for f in analysed], challenge) if challenge else None
        if challenge and not live:
            return Verification(False, round(worst, 4), 1, False, Reason.NOT_LIVE, per_frame)
        return Verification(True, round(worst, 4), 1, live, "", per_frame)


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (Soukupova & Cech 2016) from 68-point landmarks."""

    def ear(eye: np.ndarray) -> float:
        vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
        return float(vertical / (2.0 * np.linalg.norm(eye[0] - eye[3]) + 1e-9))

    return (ear(points[36:42]) + ear(points[42:48])) / 2


def nose_offset(points: np.ndarray) -> float:
    """Where the nose tip sits between the outer eye corners, -0.5 .. 0.5 (0: facing the camera)."""
    left, right, nose = points[36], points[45], points[30]
    span = right[0] - left[0]
    return float((nose[0] - left[0]) / (span + 1e-9) - 0.5)


def liveness(landmarks: list[np.ndarray], challenge: str) -> bool:
    """Challenge-response over frames taken 2-3 s apart: a blink (eye aspect ratio falls and rises) or a head
    turn (the nose moves between the eyes). Frames that hardly differ — a photo held up, a replayed image —
    fail whatever the challenge."""
    if len(landmarks) < 3:
        return False
    size = max(np.ptp(landmarks[0][:, 0]), np.ptp(landmarks[0][:, 1]), 1.0)
    motion = max(float(np.abs(p - landmarks[0]).mean()) / size for p in landmarks[1:])
    if motion < STILL_MAX_MOTION:
        return False
    if challenge == "blink":
        ears = [eye_aspect_ratio(p) for p in landmarks]
        closed = min(range(len(ears)), key=ears.__getitem__)
        return (
            ears[closed] < BLINK_CLOSED_EAR
            and max(ears[:closed] or [0]) > BLINK_OPEN_EAR
            and max(ears[closed + 1 :] or [0]) > BLINK_OPEN_EAR
        )
    if challenge == "turn":
        offsets = [nose_offset(p) for p in landmarks]
        return max(offsets) - min(offsets) > TURN_MIN_CHANGE
    return False


_providers: dict[str, FaceProvider] = {}


def provider() -> FaceProvider:
    """The configured provider (FACE_PROVIDER setting: a dotted path; the built-in dlib one by default), one
    instance per process."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "FACE_PROVIDER", "safetrain.proctoring.engine.DlibProvider")
    if path not in _providers:
        _providers[path] = import_string(path)()
    return _providers[path]
