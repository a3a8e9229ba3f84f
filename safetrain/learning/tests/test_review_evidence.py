"""ANTI-05, UX-02: the review queue shows a suspicious event's evidence as readable Chinese lines, not a dict."""

from __future__ import annotations

import re

from django.utils import timezone, translation

from safetrain.learning.evidence import evidence_lines
from safetrain.learning.models import Enrolment, SuspiciousEvent, SuspiciousKind


def test_anti_05_ux_02_review_queue_evidence_reads_as_chinese_lines(world, lesson, web_client):
    enrolment = Enrolment.objects.get(learner=world.learner_nanshan)
    SuspiciousEvent.objects.create(
        learner=world.learner_nanshan,
        enrolment=enrolment,
        kind=SuspiciousKind.SEEK_FORWARD,
        evidence={"seq": 7, "position": 83.2, "playing": True, "visible": False, "rate": 2, "furthest": 40},
        at=timezone.now(),
    )
    SuspiciousEvent.objects.create(
        learner=world.learner_nanshan,
        enrolment=enrolment,
        kind=SuspiciousKind.EXAM_FACE_FAILED,
        evidence={"attempt": 3, "number": 1, "reason": "not_live", "failures": 2, "action": "flag"},
        at=timezone.now(),
    )
    page = web_client(world.operator).get("/learn/review/").content.decode()
    for line in (
        "视频播放位置：1:23",
        "此前已学到的位置：0:40",
        "页面可见：否",
        "播放倍速：2×",
        "核验结果：活体检测未通过",
        "处理规则：标记本次考试待复核",
    ):
        assert line in page, line
    assert not re.search(r"&#x27;(position|seq|reason)&#x27;|\{'|not_live", page)


def test_anti_05_unknown_evidence_keys_are_shown_without_their_code():
    with translation.override("zh-hans"):
        assert evidence_lines({"position": 5, "zzz": 1}) == ["视频播放位置：0:05", "其他信息：1"]
        assert evidence_lines({"what": "hidden"}) == ["考试页面情况：学员切换到了其他标签页"]
        assert evidence_lines({}) == []
