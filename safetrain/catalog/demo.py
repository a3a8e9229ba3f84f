"""Demo catalogue: real short videos made by ffmpeg and transcoded to HLS, Shenzhen construction courses, a
Guangzhou principal-person programme, a Tianjin continuing-education programme, and two programmes short enough to be
walked to the end in minutes: the quick programme (study, quiz, exam, certificate) and the Shanxi one with an offline
total test. Idempotent."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.utils import timezone

from safetrain.catalog import transcode
from safetrain.catalog.models import (
    ConstructionCategory,
    Course,
    CourseStatus,
    DeadlineKind,
    JobType,
    LegalBasisKind,
    Programme,
    RegionProfile,
    Teacher,
    Video,
    VideoStatus,
)
from safetrain.catalog.services import (
    chapter_add,
    course_create,
    course_publish,
    legal_basis_add,
    legal_basis_changed,
    lesson_add,
    material_add,
    programme_course_add,
    programme_create,
    programme_publish,
    video_transcode,
    video_upload,
)

# (key, title, testsrc pattern, tone Hz, seconds)
CLIPS = [
    ("general", "演示视频：施工现场安全常识", "testsrc", 440, 24),
    ("cases", "演示视频：典型事故案例", "testsrc2", 523, 20),
    ("law", "演示视频：安全生产法规要点", "smptebars", 660, 20),
]


def _video(title: str, pattern: str, tone: int, seconds: int) -> Video:
    existing = Video.objects.filter(title=title, status=VideoStatus.READY).first()
    if existing:
        return existing
    with tempfile.TemporaryDirectory(prefix="safetrain-demo-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        transcode.make_test_clip(clip, seconds=seconds, size="1280x720", pattern=pattern, tone=tone)
        with open(clip, "rb") as fh:
            video = video_upload(file=File(fh, name=f"{title}.mp4"), title=title)
    return video_transcode(video_id=video.pk)


# The programmes a demo visitor can finish (the real ones need hundreds of minutes; the demo has a minute of video).
QUICK_PROGRAMME = "demo-quick-15min"
OFFLINE_PROGRAMME = "demo-sx-offline-test"
QUICK_LESSONS = [
    ("第1课 个人防护与现场安全", "general"),
    ("第2课 典型事故案例", "cases"),
    ("第3课 安全生产法规要点", "law"),
]


@dataclass
class DemoCatalogue:
    programmes: dict[str, Programme]
    courses: dict[str, Course]


def _course(code: str, title: str, intro: str, videos: list[tuple[str, Video]], **kw) -> Course:
    course = Course.objects.filter(code=code).first()
    if course is not None:
        return course
    course = course_create(code=code, title=title, introduction=intro, **kw)
    chapter = chapter_add(course=course, title="第一章 " + title)
    for lesson_title, video in videos:
        lesson_add(chapter=chapter, title=lesson_title, video=video)
    return course_publish(course=course)


def _minutes(*courses: Course) -> int:
    """Whole minutes the courses' videos fill (rounded down: watching everything must reach the requirement)."""
    return math.floor(sum(c.duration_seconds for c in courses) / 60)


def seed_catalogue() -> DemoCatalogue:
    videos = {key: _video(title, pattern, tone, seconds) for key, title, pattern, tone, seconds in CLIPS}
    teacher, _ = Teacher.objects.get_or_create(
        name="张建安",
        defaults={
            "title": "高级工程师",
            "qualifications": "注册安全工程师；建筑施工安全专家",
            "introduction": "从事建筑施工安全管理二十年，主讲施工现场通用安全知识。",
        },
    )
    lawyer, _ = Teacher.objects.get_or_create(
        name="李法明",
        defaults={
            "title": "安全生产法律顾问",
            "qualifications": "律师执业证",
            "introduction": "长期为企业提供安全生产法律法规培训。",
        },
    )
    rebar = JobType.objects.get(code="GJ")
    carpenter = JobType.objects.get(code="MG")
    general = _course(
        "SZ-GEN",
        "上岗前通用安全常识",
        "施工现场安全常识：三宝四口五临边、安全帽与安全带的正确使用、临时用电。",
        [("安全帽、安全带与个人防护", videos["general"]), ("临时用电与防火", videos["cases"])],
        is_public=True,
        construction_category=ConstructionCategory.GENERAL,
        teachers=[teacher],
    )
    if not general.materials.exists():
        material_add(
            course=general,
            title="导学资料（施工现场安全须知）",
            file=ContentFile("施工现场安全须知：进入现场必须正确佩戴安全帽……\n".encode(), name="guide.txt"),
        )
    rebar_course = _course(
        "SZ-GJ",
        "钢筋工典型事故案例",
        "钢筋加工与绑扎作业中的物体打击、机械伤害案例分析。",
        [("钢筋加工机械伤害案例", videos["cases"])],
        construction_category=ConstructionCategory.JOB_TYPE_CASES,
        job_types=[rebar],
        teachers=[teacher],
    )
    carpenter_course = _course(
        "SZ-MG",
        "木工典型事故案例",
        "模板支撑体系坍塌与高处坠落案例分析。",
        [("模板坍塌案例", videos["cases"])],
        construction_category=ConstructionCategory.JOB_TYPE_CASES,
        job_types=[carpenter],
        teachers=[teacher],
    )
    _course(
        "SZ-WD",
        "危险性较大工程典型事故案例",
        "深基坑、高支模、起重吊装等危大工程事故案例（只学不考）。",
        [("深基坑坍塌案例", videos["cases"])],
        construction_category=ConstructionCategory.HAZARDOUS_WORKS,
        teachers=[teacher],
    )
    principal = _course(
        "GZ-PRI",
        "主要负责人安全生产知识和管理能力",
        "《安全生产法》规定的主要负责人职责、安全生产责任制、隐患排查治理与应急管理。",
        [("安全生产法与主要负责人职责", videos["law"]), ("隐患排查治理", videos["general"])],
        is_public=True,
        teachers=[lawyer],
    )
    if not principal.legal_bases.exists():
        law = legal_basis_add(
            course=principal,
            title="中华人民共和国安全生产法",
            kind=LegalBasisKind.LAW,
            effective_date=dt.date(2002, 11, 1),
            document_no="主席令第88号",
        )
        legal_basis_changed(basis=law, changed_on=dt.date(2021, 9, 1))
    tianjin = _course(
        "TJ-CE",
        "建设工程安全生产法规标准",
        "建设法规与安全标准解读（继续教育公共课）。",
        [("建设工程安全生产管理条例解读", videos["law"])],
        is_public=True,
        teachers=[lawyer],
    )

    profiles = {p.code: p for p in RegionProfile.objects.all()}
    programmes: dict[str, Programme] = {}

    def programme(code: str, courses: list[Course], **kw) -> Programme:
        existing = Programme.objects.filter(code=code).first()
        if existing is not None:
            programmes[code] = existing
            return existing
        created = programme_create(code=code, **kw)
        for course in courses:
            programme_course_add(programme=created, course=course)
        programmes[code] = programme_publish(programme=created)
        return created

    programme(
        "sz-construction-worker",
        [general, rebar_course, carpenter_course],
        name="深圳市建筑施工人员安全教育培训",
        profile=profiles["shenzhen_construction"],
        kind="initial",
        audience="construction_worker",
        required_minutes=_minutes(general, rebar_course),
        required_public_minutes=_minutes(general),
        includes_job_type_course=True,
    )
    programme(
        "gz-principal-initial-32h",
        [principal],
        name="广州市非高危行业主要负责人和安全生产管理人员初次培训（32学时）",
        profile=profiles["guangdong_online"],
        kind="initial",
        audience="principal_safety_manager",
        industry="other",
        high_risk=False,
        deadline_kind=DeadlineKind.AFTER_OPENING,
        deadline_days=30,
    )
    programme(
        "gz-principal-refresher-12h",
        [principal],
        name="广州市非高危行业主要负责人和安全生产管理人员再培训（12学时）",
        profile=profiles["guangdong_online"],
        kind="refresher",
        audience="principal_safety_manager",
        industry="other",
        high_risk=False,
        deadline_kind=DeadlineKind.AFTER_OPENING,
        deadline_days=30,
    )
    # ENR-02: the Guangzhou notice's fees (seeds/002 六): 800 yuan initial, 300 yuan refresher.
    for code, fee in (("gz-principal-initial-32h", 800), ("gz-principal-refresher-12h", 300)):
        Programme.objects.filter(code=code, fee__isnull=True).update(fee=fee)
    programme(
        "tj-ce-16h",
        [tianjin],
        name="天津市建设系统继续教育（16学时）",
        profile=profiles["tianjin_ce"],
        kind="continuing",
        audience="other",
        required_minutes=640,
        required_public_minutes=320,
        self_enrolment=True,
        deadline_kind=DeadlineKind.FIXED,
        deadline_date=dt.date(timezone.localdate().year, 12, 31),
    )
    programme(
        "sx-principal-refresher",
        [principal],
        name="山西省生产经营单位主要负责人再培训",
        profile=profiles["shanxi"],
        kind="refresher",
        audience="principal",
        industry="other",
        high_risk=False,
    )
    programmes.update(seed_walkable_programmes(videos, teacher))
    courses = {c.code: c for c in Course.objects.filter(status=CourseStatus.PUBLISHED)}
    return DemoCatalogue(programmes, courses)


def seed_walkable_programmes(
    videos: dict[str, Video], teacher: Teacher | None = None
) -> dict[str, Programme]:
    """The two programmes a visitor can finish: the short course's three lessons (about a minute of video) meet
    the hour rule. The quick one (Guangdong rules) goes on to lesson quizzes, a ten-question exam (mock and real,
    pass 60, three attempts: assessment.demo_bank) and the certificate; the Shanxi one adds a third of its minutes
    offline and the offline total test (EXM-08), whose score the unit or the operator enters."""
    quick = _course(
        "DEMO-QUICK",
        "安全速学三课（演示）",
        "三节一分钟以内的短课：个人防护、事故案例、法规要点；每课学完做一道随堂测试题。",
        [(title, videos[key]) for title, key in QUICK_LESSONS],
        is_public=True,
        teachers=[teacher] if teacher else [],
    )
    profiles = {p.code: p for p in RegionProfile.objects.all()}
    common = {
        "industry": "other",
        "high_risk": False,
        "required_minutes": _minutes(quick),
        "exam_pass_mark": 60,
        "exam_attempts": 3,
    }
    plans = {
        QUICK_PROGRAMME: {
            "name": "演示：15 分钟安全速学（可完整走通）",
            "profile": profiles["guangdong_online"],
            "kind": "initial",
            "audience": "other",
        },
        OFFLINE_PROGRAMME: {
            "name": "演示：山西线下总测（可录入成绩）",
            "profile": profiles["shanxi"],
            "kind": "refresher",
            "audience": "principal",
        },
    }
    out = {}
    for code, plan in plans.items():
        existing = Programme.objects.filter(code=code).first()
        if existing is None:
            existing = programme_create(code=code, **plan, **common)
            programme_course_add(programme=existing, course=quick)
            existing = programme_publish(programme=existing)
        out[code] = existing
    return out
