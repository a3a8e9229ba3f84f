"""ACC-07 / ACC-08: the reference photo — checked, enrolled with the real model, stored encrypted, set once."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.proctoring.engine import provider
from safetrain.proctoring.models import FaceTemplate
from safetrain.proctoring.services import reference_photo, reference_photo_approve, reference_photo_set
from safetrain.proctoring.tests.test_engine import photo


def portrait(name: str, size=(295, 412), fmt="JPEG") -> bytes:
    image = Image.open(io.BytesIO(photo(name))).convert("RGB")
    image = image.resize(size)
    out = io.BytesIO()
    image.save(out, fmt, quality=90)
    return out.getvalue()


def approved_photo(user, data: bytes, *, reviewer) -> FaceTemplate:
    """A reference photo that counts, got the way a learner gets one: uploaded, then approved by a reviewer of the
    learner's unit (or an operator). Tests that study or take exams with face checks start from here."""
    template = reference_photo_set(user=user, data=data, actor=user)
    return reference_photo_approve(template=template, reviewer=reviewer)


def test_acc_07_a_learner_sets_a_one_inch_portrait_once_and_it_is_stored_encrypted(world):
    data = portrait("obama.jpg")
    template = reference_photo_set(user=world.learner_nanshan, data=data, actor=world.learner_nanshan)
    assert len(json.loads(template.template)) == 128
    with default_storage.open(template.photo_name, "rb") as fh:
        stored = fh.read()
    assert stored[:4] == b"gAAA"  # a Fernet token, never the JPEG
    assert b"JFIF" not in stored
    assert reference_photo(template) == data
    # The template reads back and verifies the same person.
    result = provider().verify(
        json.loads(FaceTemplate.objects.get(pk=template.pk).template), [photo("obama2.jpg")]
    )
    assert result.match
    # Once approved, it is locked for the learner; an operator replaces it.
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    with pytest.raises(PermissionDenied) as err:
        reference_photo_set(
            user=world.learner_nanshan, data=portrait("obama2.jpg"), actor=world.learner_nanshan
        )
    assert err.value.code == "photo_locked"
    replaced = reference_photo_set(
        user=world.learner_nanshan, data=portrait("obama2.jpg"), actor=world.operator
    )
    assert replaced.replaced_at is not None


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: portrait("obama_and_biden.jpg", size=(300, 420)), "face_multiple_faces"),
        (lambda: portrait("obama.jpg", size=(412, 295)), "photo_size"),
        (lambda: portrait("obama.jpg", size=(2000, 2800)), "photo_too_large"),
        (lambda: portrait("obama.jpg", fmt="GIF"), "photo_type"),
        (lambda: b"not an image at all", "photo_type"),
    ],
    ids=["two-faces", "landscape", "over-500kb", "gif", "garbage"],
)
def test_acc_07_a_bad_photo_is_refused_with_a_reason_and_nothing_is_stored(world, make, code):
    before = set(default_storage.listdir("faces")[1]) if default_storage.exists("faces") else set()
    with pytest.raises(DomainError) as err:
        reference_photo_set(user=world.learner_futian, data=make(), actor=world.learner_futian)
    assert err.value.code == code
    assert err.value.message
    assert not FaceTemplate.objects.filter(user=world.learner_futian).exists()
    after = set(default_storage.listdir("faces")[1]) if default_storage.exists("faces") else set()
    assert after == before


def test_acc_07_a_photo_without_a_face_is_refused(world):
    blank = io.BytesIO()
    Image.new("RGB", (295, 412), (30, 60, 200)).save(blank, "JPEG")
    with pytest.raises(DomainError) as err:
        reference_photo_set(user=world.learner_futian, data=blank.getvalue(), actor=world.learner_futian)
    assert err.value.code == "face_no_face"
    assert "No face" in err.value.message or "没有" in err.value.message or "未" in err.value.message
