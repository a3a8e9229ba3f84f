"""FACE-02, FACE-05 with the real model and real photos (../shared/testdata/faces, see its README)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from safetrain.proctoring.engine import (
    MATCH_THRESHOLD,
    DlibProvider,
    FaceError,
    Reason,
    eye_aspect_ratio,
    liveness,
)

FACES = (
    Path(
        os.environ.get("SAFETRAIN_TESTDATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "testdata")
    )
    / "faces"
)


def photo(name: str) -> bytes:
    path = FACES / name
    if not path.is_file():
        pytest.skip(f"test photos not found in {FACES} (set SAFETRAIN_TESTDATA_DIR)")
    return path.read_bytes()


@pytest.fixture(scope="module")
def engine() -> DlibProvider:
    return DlibProvider()


@pytest.fixture(scope="module")
def template_a(engine) -> list[float]:
    return engine.enrol(photo("obama.jpg")).template


def test_face_05_a_enrols_and_passes_with_other_photos_of_a(engine, template_a):
    assert len(template_a) == 128
    for name in ("obama2.jpg", "obama3.jpg"):
        result = engine.verify(template_a, [photo(name)])
        assert result.match, result
        assert result.distance < 0.45  # measured 0.36-0.38
        assert result.faces_found == 1


@pytest.mark.parametrize("name", ["biden.jpg", "biden2.jpg"])
def test_face_05_b_is_refused_as_a_different_person(engine, template_a, name):
    result = engine.verify(template_a, [photo(name)])
    assert not result.match
    assert result.reason == Reason.DIFFERENT_PERSON
    assert result.distance > MATCH_THRESHOLD + 0.2  # measured 0.85


def test_face_05_more_than_one_face_is_refused(engine, template_a):
    with pytest.raises(FaceError) as err:
        engine.enrol(photo("obama_and_biden.jpg"))
    assert err.value.reason == Reason.MULTIPLE_FACES
    result = engine.verify(template_a, [photo("obama_and_biden.jpg")])
    assert result.reason == Reason.MULTIPLE_FACES
    assert not result.match


def test_face_05_an_image_without_a_face_and_a_non_image_are_refused(engine, template_a):
    blank = io.BytesIO()
    Image.new("RGB", (400, 500), (40, 90, 160)).save(blank, "JPEG")
    with pytest.raises(FaceError) as err:
        engine.enrol(blank.getvalue())
    assert err.value.reason == Reason.NO_FACE
    with pytest.raises(FaceError) as err:
        engine.enrol(b"%PDF-1.4 not an image")
    assert err.value.reason == Reason.UNREADABLE


def test_face_05_a_face_too_small_is_refused(engine):
    small = io.BytesIO()
    Image.open(io.BytesIO(photo("obama.jpg"))).resize((90, 112)).save(small, "JPEG")
    with pytest.raises(FaceError) as err:
        engine.enrol(small.getvalue())
    assert err.value.reason in {Reason.FACE_TOO_SMALL, Reason.NO_FACE}


@pytest.mark.parametrize("challenge", ["blink", "turn"])
def test_face_02_a_still_image_repeated_fails_liveness(engine, template_a, challenge):
    frames = [photo("obama2.jpg")] * 5
    result = engine.verify(template_a, frames, challenge=challenge)
    assert not result.match
    assert result.reason == Reason.NOT_LIVE
    assert result.distance < MATCH_THRESHOLD  # the right person, but a photo


def _face(ear: float = 0.3, nose: float = 0.0, jitter: float = 0.0) -> np.ndarray:
    """68 synthetic landmarks: eyes with a given aspect ratio, the nose at a given offset between the eyes."""
    points = np.zeros((68, 2))
    points[:, 0] = np.linspace(0, 200, 68)
    points[:, 1] = np.linspace(0, 220, 68)
    for start, x0 in ((36, 40.0), (42, 120.0)):
        width = 40.0
        half = ear * width / 2
        points[start : start + 6] = [
            [x0, 80],
            [x0 + 13, 80 - half],
            [x0 + 27, 80 - half],
            [x0 + width, 80],
            [x0 + 27, 80 + half],
            [x0 + 13, 80 + half],
        ]
    points[30] = [40 + (160 - 40) * (0.5 + nose), 130]
    return points + jitter


def test_face_02_blink_and_turn_are_recognised_from_landmarks():
    blink = [_face(0.31), _face(0.30, jitter=0.5), _face(0.12, jitter=1.0), _face(0.29, jitter=1.5)]
    assert 0.11 < eye_aspect_ratio(blink[2]) < 0.13
    assert liveness(blink, "blink")
    no_blink = [_face(0.30, jitter=i * 0.8) for i in range(4)]
    assert not liveness(no_blink, "blink")
    turn = [
        _face(nose=0.0),
        _face(nose=-0.06, jitter=1),
        _face(nose=-0.16, jitter=2),
        _face(nose=-0.1, jitter=2),
    ]
    assert liveness(turn, "turn")
    assert not liveness(turn, "blink")
    assert not liveness(turn[:2], "turn")  # too few frames


@pytest.mark.parametrize("size", [55, 70])
def test_face_05_a_smaller_second_face_beside_the_learner_is_found(engine, template_a, size):
    from safetrain.proctoring.tests.camera import TURN, camera_frame, id_photo

    helper = (
        Image.open(io.BytesIO(camera_frame("biden2.jpg"))).crop((200, 120, 440, 360)).resize((size, size))
    )

    def with_helper(data: bytes) -> bytes:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        image.paste(helper, (image.width - size - 20, 30))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        return out.getvalue()

    result = engine.verify(template_a, [with_helper(camera_frame(n)) for n in TURN], challenge="turn")
    assert (result.match, result.reason) == (False, Reason.MULTIPLE_FACES)
    with pytest.raises(FaceError) as refused:
        engine.enrol(with_helper(id_photo("obama.jpg")))
    assert refused.value.reason in {Reason.MULTIPLE_FACES}
