"""FACE-06: group training. The organiser records an offline session with the signed sheet and front-face photos;
the faces are matched against the enrolled learners' ID photos and the match list is recorded and shown."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import make_user
from safetrain.catalog.models import OfflinePhotoKind, OfflineSession
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import video_of
from safetrain.proctoring.models import GroupFaceMatch
from safetrain.proctoring.tests.camera import id_photo
from safetrain.proctoring.tests.test_engine import photo
from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait
from safetrain.records.models import AuditEntry


def test_face_06_faces_in_group_photos_are_matched_to_the_enrolled_learners(
    world, web_client, django_capture_on_commit_callbacks
):
    course = course_create(code="GRP", title="集中培训课程")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
    course_publish(course=course)
    programme = published_programme("grp", [course])
    a, b = world.learner_nanshan, world.learner_team
    c = make_user(world.ent_nanshan, name="第三学员")
    for learner in (a, b, c):
        enrolment_create(learner=learner, programme=programme)
    approved_photo(a, portrait("obama.jpg"), reviewer=world.admin_nanshan)
    approved_photo(b, id_photo("biden.jpg"), reviewer=world.admin_nanshan)  # c has no photo yet
    client = web_client(world.admin_nanshan)
    with django_capture_on_commit_callbacks(execute=True):  # the matching task runs after the commit
        response = client.post(
            "/learn/offline/",
            {
                "programme": programme.pk,
                "organisation": world.ent_nanshan.pk,
                "date": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
                "place": "南山项目部会议室",
                "teacher": "李老师",
                "content": "本单位安全生产规章制度",
                "minutes": 120,
                "present": [a.pk, b.pk, c.pk],
                "sheet": SimpleUploadedFile("sheet.png", _sheet(), "image/png"),
                "photos": [
                    SimpleUploadedFile("group.jpg", photo("obama_and_biden.jpg"), "image/jpeg"),
                ],
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    session = OfflineSession.objects.get()
    assert response["Location"] == f"/proctoring/group/{session.pk}/"
    assert set(session.photos.values_list("kind", flat=True)) == {
        OfflinePhotoKind.SHEET,
        OfflinePhotoKind.FACES,
    }
    rows = GroupFaceMatch.objects.filter(session=session)
    matched = set(rows.exclude(learner=None).values_list("learner_id", flat=True))
    assert matched == {a.pk, b.pk}  # both learners of the group photo, each recognised as the right one
    assert all(r.distance <= 0.5 for r in rows.exclude(learner=None))
    faces = rows.count()
    page = client.get(response["Location"]).content.decode()
    assert a.name in page
    assert b.name in page
    assert "已签到但未出现在照片中" in page
    assert c.name in page
    assert "没有可用证件照的报名学员" in page
    assert AuditEntry.objects.filter(action="face.group_match").exists()
    # Matching again replaces the list; another unit's admin cannot see it.
    assert client.post(response["Location"]).status_code == 302
    assert GroupFaceMatch.objects.filter(session=session).count() == faces
    assert web_client(world.admin_futian).get(response["Location"]).status_code == 404


def _sheet() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, "PNG")
    return out.getvalue()
