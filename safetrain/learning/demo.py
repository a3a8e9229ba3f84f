"""Demo enrolments: the Shenzhen team workers in the construction programme with their job types, Guangzhou
learners in the principal-person programme, the quick learners in the short demo programme and the Shanxi learner in
the offline-test programme. The project's general workers are left for a class to enrol (enterprise.demo). And the
lesson-quiz banks of the demo courses (QZ-01). Idempotent."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from safetrain.accounts.demo import DemoAccounts
from safetrain.catalog.demo import OFFLINE_PROGRAMME, QUICK_PROGRAMME, DemoCatalogue
from safetrain.catalog.models import Course, JobType
from safetrain.learning.models import Enrolment, QuizQuestion
from safetrain.learning.services import enrolment_create

# Which programme and job type each demo learner organisation gets.
PLAN = {
    "钢筋班组": ("sz-construction-worker", "GJ"),
    "木工班组": ("sz-construction-worker", "MG"),
    "广州市明达商贸有限公司": ("gz-principal-initial-32h", None),
}
# The learners of the walkable flows (accounts.demo), by key prefix: one programme each, whatever their unit.
PLAN_BY_KEY = {"quick": (QUICK_PROGRAMME, None), "offline": (OFFLINE_PROGRAMME, None)}


def _plan(account: dict[str, str]) -> tuple[str, str | None] | None:
    for prefix, plan in PLAN_BY_KEY.items():
        if account["key"].startswith(prefix):
            return plan
    return PLAN.get(account["organisation"])


def seed_enrolments(accounts: DemoAccounts, catalogue: DemoCatalogue) -> int:
    created = 0
    for account in accounts.accounts:
        plan = _plan(account)
        if account["role"] != "learner" or plan is None:
            continue
        programme_code, job_code = plan
        learner = accounts.user(account["key"])
        programme = catalogue.programmes[programme_code]
        if Enrolment.objects.filter(learner=learner, programme=programme).exists():
            continue
        enrolment_create(
            learner=learner,
            programme=programme,
            job_type=JobType.objects.get(code=job_code) if job_code else None,
        )
        created += 1
    return created


# Lesson quizzes (QZ-01): a short lesson asks one question, drawn from its course's bank. (stem, options, index of
# the right option, explanation) per demo course.
YES_NO = ["正确", "错误"]
QUIZZES: dict[str, list[tuple[str, list[str], int, str]]] = {
    "SZ-GEN": [
        ("进入施工现场必须正确佩戴____。", ["安全帽", "遮阳帽", "棒球帽"], 0, "安全帽是施工现场“三宝”之一。"),
        ("安全带应当高挂低用。", YES_NO, 0, "高挂低用可减小坠落距离和冲击力。"),
        (
            "施工现场临时用电应采用____系统。",
            ["TN-S 接零保护", "TT", "TN-C"],
            0,
            "三级配电、两级保护，采用 TN-S。",
        ),
    ],
    "SZ-GJ": [
        (
            "钢筋调直切断时，手与刀口的距离应当____。",
            ["保持安全距离", "越近越好", "无所谓"],
            0,
            "防止机械伤害。",
        ),
        ("钢筋加工机械的转动部位可以不装防护罩。", YES_NO, 1, "转动部位必须设防护罩。"),
    ],
    "SZ-MG": [
        (
            "模板支撑体系搭设前应当____。",
            ["编制专项方案并交底", "凭经验搭设", "边搭边改"],
            0,
            "高支模须有专项方案。",
        ),
        ("拆除模板可以上下同时作业。", YES_NO, 1, "严禁上下同时拆除，防止物体打击。"),
    ],
    "SZ-WD": [
        ("深基坑开挖应当____。", ["按方案分层开挖", "一次挖到底", "先挖后支护"], 0, "分层开挖、先撑后挖。"),
        ("起重吊装作业时，吊物下方严禁站人。", YES_NO, 0, "防止吊物坠落伤人。"),
    ],
    "GZ-PRI": [
        (
            "生产经营单位的____是本单位安全生产第一责任人。",
            ["主要负责人", "安全员", "班组长"],
            0,
            "《安全生产法》第五条。",
        ),
        ("事故隐患排查治理只需在发生事故后进行。", YES_NO, 1, "隐患排查治理是日常工作，应当常态化。"),
        (
            "安全生产工作应当坚持____的理念。",
            ["人民至上、生命至上", "效益优先", "进度优先"],
            0,
            "《安全生产法》第三条。",
        ),
    ],
    "TJ-CE": [
        (
            "建设工程安全生产管理坚持____的方针。",
            ["安全第一、预防为主", "进度第一", "成本优先"],
            0,
            "《建设工程安全生产管理条例》。",
        ),
        ("施工单位应当为施工现场从事危险作业的人员办理意外伤害保险。", YES_NO, 0, "条例第三十八条。"),
    ],
    "DEMO-QUICK": [
        (
            "进入施工现场，首先应当____。",
            ["正确佩戴安全帽", "先去休息区", "先拍照"],
            0,
            "安全帽是施工现场“三宝”之一。",
        ),
        ("发现有人触电，首先应当迅速切断电源。", YES_NO, 0, "切断电源后再施救，避免施救者触电。"),
        ("火灾报警电话是____。", ["119", "110", "120"], 0, "110 报警，120 急救，119 火警。"),
        (
            "从业人员发现直接危及人身安全的紧急情况时，有权停止作业或者撤离。",
            YES_NO,
            0,
            "《安全生产法》赋予的紧急避险权。",
        ),
        (
            "安全生产工作坚持安全第一、____、综合治理的方针。",
            ["预防为主", "效益为主", "速度为主"],
            0,
            "《安全生产法》第三条。",
        ),
    ],
}


@transaction.atomic
def seed_quiz_questions(courses: dict[str, Course] | Any = None) -> int:
    """Give every demo course its lesson-quiz bank (once: a course that has questions keeps its own)."""
    courses = courses or {c.code: c for c in Course.objects.filter(code__in=QUIZZES)}
    new = []
    for code, questions in QUIZZES.items():
        course = courses.get(code)
        if course is None or QuizQuestion.objects.filter(course=course).exists():
            continue
        for stem, options, right, explanation in questions:
            new.append(
                QuizQuestion(
                    course=course,
                    kind="true_false" if options is YES_NO else "single",
                    stem=stem,
                    options=list(options),
                    answer=[right],
                    explanation=explanation,
                )
            )
    QuizQuestion.objects.bulk_create(new)
    return len(new)
