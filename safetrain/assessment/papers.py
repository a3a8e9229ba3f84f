"""Paper rules and presets (EXM-02): saved only when the bank can satisfy them, drawn independently per candidate."""

from __future__ import annotations

import secrets
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safetrain.assessment.models import Difficulty, PaperRule, Question, QuestionKind
from safetrain.catalog.models import Programme
from safetrain.core.errors import DomainError
from safetrain.records.services import audit_log


class _Labels(dict):
    """Translated labels, looked up when used (the page's language)."""

    def __init__(self, choices: Any) -> None:
        super().__init__()
        self.choices = choices

    def __getitem__(self, key: Any) -> str:
        return str(self.choices(key).label)

    def items(self):  # noqa: ANN201 - templates iterate over it
        return [(value, str(label)) for value, label in self.choices.choices]


KIND_NAMES = _Labels(QuestionKind)
LEVEL_NAMES = _Labels(Difficulty)


def _section(kind: str, count: int, score: str) -> dict[str, Any]:
    return {"kind": kind, "count": count, "score": score}


# Section layouts of the regions' exams. Tianjin's is its published exam guide (70 questions, 100 points, 120
# minutes, pass 60, 1 + 2 attempts); the documents give Guangdong, Shanxi and Shenzhen only the pass mark (80), so
# their layout is the platform's default of 100 points. Duration, pass mark and attempts come from the programme
# (its region profile, or its own override).
PRESETS: dict[str, list[dict[str, Any]]] = {
    "tianjin": [
        _section(QuestionKind.SINGLE, 40, "1.5"),
        _section(QuestionKind.MULTIPLE, 10, "2"),
        _section(QuestionKind.TRUE_FALSE, 20, "1"),
    ],
    "default": [
        _section(QuestionKind.SINGLE, 50, "1"),
        _section(QuestionKind.MULTIPLE, 15, "2"),
        _section(QuestionKind.TRUE_FALSE, 20, "1"),
    ],
}
PRESETS["guangdong_online"] = PRESETS["shanxi"] = PRESETS["shenzhen_construction"] = PRESETS["default"]
# What the preset button calls each preset: the region, in the user's language, never the code.
PRESET_NAMES: dict[str, Any] = {
    "tianjin": gettext_lazy("Tianjin"),
    "guangdong_online": gettext_lazy("Guangdong"),
    "shanxi": gettext_lazy("Shanxi"),
    "shenzhen_construction": gettext_lazy("Shenzhen"),
    "default": gettext_lazy("platform default"),
}


def preset_name(programme: Programme) -> str:
    """The region preset of the programme as a user reads it (天津市), for the paper-rule page."""
    preset = programme.profile.exam_preset or "default"
    return str(PRESET_NAMES.get(preset, PRESET_NAMES["default"]))


def _decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
        if not number.is_finite() or number > 1000:
            raise InvalidOperation
    except (InvalidOperation, ValueError) as exc:
        raise DomainError("invalid_score", _("%(what)s must be a number.") % {"what": what}) from exc
    if number <= 0 or number != number.quantize(Decimal("0.1")):
        raise DomainError(
            "invalid_score", _("%(what)s must be above 0, with at most one decimal.") % {"what": what}
        )
    return number


def _clean_sections(sections: list[dict[str, Any]], manual: bool) -> list[dict[str, Any]]:
    if not sections:
        raise DomainError("no_sections", _("Add at least one question type with its count and score."))
    clean, kinds = [], set()
    for section in sections:
        if not isinstance(section, dict):
            raise DomainError("invalid_section", _("Each question type is given with its count and score."))
        kind = section.get("kind")
        if kind not in QuestionKind.values:
            raise DomainError("invalid_kind", _("Unknown question type: %(kind)s.") % {"kind": kind})
        if kind in kinds:
            raise DomainError(
                "duplicate_kind",
                _("%(kind)s is listed twice; give each type once.") % {"kind": KIND_NAMES[kind]},
            )
        kinds.add(kind)
        score = _decimal(section.get("score"), _("The score of %(kind)s") % {"kind": KIND_NAMES[kind]})
        item: dict[str, Any] = {"kind": kind, "score": str(score)}
        if not manual:
            try:
                count = int(section.get("count"))
            except (TypeError, ValueError):
                count = 0
            if count < 1:
                raise DomainError(
                    "invalid_count", _("Give how many %(kind)s the paper has.") % {"kind": KIND_NAMES[kind]}
                )
            item["count"] = count
            difficulty = {int(k): int(v) for k, v in (section.get("difficulty") or {}).items() if int(v) > 0}
            points = {
                str(k).strip(): int(v)
                for k, v in (section.get("knowledge_points") or {}).items()
                if int(v) > 0
            }
            if difficulty and points:
                raise DomainError(
                    "quota_mix",
                    _("%(kind)s: give difficulty quotas or knowledge-point quotas, not both.")
                    % {"kind": KIND_NAMES[kind]},
                )
            if difficulty and (set(difficulty) - {1, 2, 3} or sum(difficulty.values()) != count):
                raise DomainError(
                    "difficulty_quota",
                    _("%(kind)s: the difficulty quotas (易, 中, 难) must add up to the count, %(count)d.")
                    % {"kind": KIND_NAMES[kind], "count": count},
                )
            if sum(points.values()) > count:
                raise DomainError(
                    "points_quota",
                    _("%(kind)s: the knowledge-point quotas add up to more than the count, %(count)d.")
                    % {"kind": KIND_NAMES[kind], "count": count},
                )
            if difficulty:
                item["difficulty"] = {str(k): v for k, v in sorted(difficulty.items())}
            if points:
                item["knowledge_points"] = points
        clean.append(item)
    return clean


def missing_for(programme: Programme, sections: list[dict[str, Any]]) -> list[str]:
    """What the bank lacks for these sections, in words (empty: the rule can be satisfied for every candidate)."""
    active = Question.objects.filter(programme=programme, is_active=True)
    problems = []
    for section in sections:
        kind, count = section["kind"], section["count"]
        pool = list(active.filter(kind=kind).values_list("difficulty", "knowledge_point"))
        name = KIND_NAMES[kind]
        if len(pool) < count:
            problems.append(
                _("%(kind)s: %(need)d needed, the bank has %(have)d (%(short)d short)")
                % {"kind": name, "need": count, "have": len(pool), "short": count - len(pool)}
            )
        levels = Counter(level for level, _point in pool)
        for level, need in (section.get("difficulty") or {}).items():
            have = levels[int(level)]
            if have < need:
                problems.append(
                    _("%(kind)s, difficulty %(level)s: %(need)d needed, the bank has %(have)d")
                    % {"kind": name, "level": LEVEL_NAMES[int(level)], "need": need, "have": have}
                )
        points = Counter(point for _level, point in pool)
        for point, need in (section.get("knowledge_points") or {}).items():
            if points[point] < need:
                problems.append(
                    _("%(kind)s, knowledge point %(point)s: %(need)d needed, the bank has %(have)d")
                    % {"kind": name, "point": point, "need": need, "have": points[point]}
                )
    return problems


@transaction.atomic
def paper_rule_save(
    *,
    programme: Programme,
    name: str,
    sections: list[dict[str, Any]],
    duration_minutes: int,
    pass_mark: Any,
    attempts: int,
    question_ids: list[int] | None = None,
    shuffle_options: bool = True,
    preset: str = "",
    actor: Any = None,
) -> PaperRule:
    """Save a programme's paper rule, replacing the active one. A rule the bank cannot satisfy is refused with
    what is missing; nothing changes then."""
    manual = bool(question_ids)
    sections = _clean_sections(sections, manual)
    if manual:
        questions = {
            q.pk: q for q in Question.objects.filter(programme=programme, is_active=True, pk__in=question_ids)
        }
        unknown = [str(pk) for pk in question_ids if pk not in questions]
        if unknown or len(set(question_ids)) != len(question_ids):
            raise DomainError(
                "manual_questions",
                _(
                    "These questions are not active questions of this programme's bank, or are listed twice: %(ids)s."
                )
                % {"ids": ", ".join(unknown) or _("duplicates")},
            )
        kinds = {s["kind"] for s in sections}
        untyped = {questions[pk].kind for pk in question_ids} - kinds
        if untyped:
            raise DomainError(
                "manual_scores",
                _("Give a score for every question type on the paper: %(kinds)s.")
                % {"kinds": "、".join(KIND_NAMES[k] for k in sorted(untyped))},
            )
        by_kind = Counter(questions[pk].kind for pk in question_ids)
        for section in sections:
            section["count"] = by_kind[section["kind"]]
        sections = [s for s in sections if s["count"]]
    else:
        problems = missing_for(programme, sections)
        if problems:
            raise DomainError(
                "bank_too_small",
                _("The question bank cannot fill this paper: %(problems)s. Add questions or change the rule.")
                % {"problems": "；".join(problems)},
            )
    total = sum(Decimal(s["score"]) * s["count"] for s in sections)
    mark = _decimal(pass_mark, _("The pass mark"))
    if mark > total:
        raise DomainError(
            "pass_mark",
            _("The pass mark %(mark)s is above the paper's total, %(total)s.")
            % {"mark": mark, "total": total},
        )
    try:
        duration_minutes, attempts = int(duration_minutes), int(attempts)
    except (TypeError, ValueError) as exc:
        raise DomainError("duration", _("Give the duration and the attempts as whole numbers.")) from exc
    if not 1 <= duration_minutes <= 600:
        raise DomainError("duration", _("The exam lasts between 1 and 600 minutes."))
    if not 1 <= attempts <= 20:
        raise DomainError("attempts", _("Allow between 1 and 20 attempts."))
    PaperRule.objects.filter(programme=programme, is_active=True).update(is_active=False)
    rule = PaperRule.objects.create(
        programme=programme,
        name=name.strip() or programme.name,
        preset=preset,
        sections=sections,
        question_ids=list(question_ids or []),
        duration_minutes=int(duration_minutes),
        pass_mark=mark,
        attempts=int(attempts),
        shuffle_options=shuffle_options,
    )
    audit_log(
        action="assessment.paper_rule",
        obj=programme,
        actor=actor,
        detail={"rule": rule.pk, "total": str(total)},
    )
    return rule


def paper_rule_from_preset(*, programme: Programme, actor: Any = None) -> PaperRule:
    """The programme's region preset, with the programme's duration, pass mark and attempts."""
    preset = programme.profile.exam_preset or "default"
    return paper_rule_save(
        programme=programme,
        name=f"{programme.name}考试",
        sections=[dict(s) for s in PRESETS.get(preset, PRESETS["default"])],
        duration_minutes=programme.profile.exam_duration_minutes,
        pass_mark=programme.setting("exam_pass_mark"),
        attempts=programme.setting("exam_attempts"),
        preset=preset,
        actor=actor,
    )


def rule_total(rule: PaperRule) -> Decimal:
    return sum((Decimal(s["score"]) * s["count"] for s in rule.sections), Decimal(0))


_random = secrets.SystemRandom()


def paper_draw(rule: PaperRule, rng: Any = None) -> list[dict[str, Any]]:
    """One candidate's paper: an independent random draw per section (within the quotas) and, for choice
    questions, a shuffled option order. Each item keeps a copy of its question as drawn (type, stem, options, key),
    so later edits to the bank never change a paper already given: {question, kind, stem, options, answer, order,
    score}; order[i] is the original index of the option shown in place i.

    Questions deactivated since the rule was saved can leave the bank short: that is refused with a clear message
    (the rule must be fixed), never half a paper."""
    rng = rng or _random
    scores = {s["kind"]: s["score"] for s in rule.sections}
    bank = Question.objects.filter(programme=rule.programme, is_active=True)
    chosen: list[Question] = []
    if rule.question_ids:
        by_id = bank.in_bulk(rule.question_ids)
        if len(by_id) != len(set(rule.question_ids)):
            raise DomainError(
                "paper_unavailable",
                _(
                    "This exam cannot be set just now: questions of its paper were withdrawn. Contact your training "
                    "institution or customer service."
                ),
            )
        chosen = [by_id[pk] for pk in rule.question_ids]
    else:
        if missing_for(rule.programme, rule.sections):
            raise DomainError(
                "paper_unavailable",
                _(
                    "This exam cannot be set just now: its question bank has too few questions. Contact your training "
                    "institution or customer service."
                ),
            )
        for section in rule.sections:
            pool = list(bank.filter(kind=section["kind"]))
            picked: list[Question] = []
            if section.get("difficulty"):
                for level, need in section["difficulty"].items():
                    picked += rng.sample([q for q in pool if q.difficulty == int(level)], need)
            else:
                for point, need in (section.get("knowledge_points") or {}).items():
                    picked += rng.sample([q for q in pool if q.knowledge_point == point], need)
                taken = {q.pk for q in picked}
                rest = [q for q in pool if q.pk not in taken]
                picked += rng.sample(rest, section["count"] - len(picked))
            rng.shuffle(picked)
            chosen += picked
    items = []
    for question in chosen:
        order = list(range(len(question.options)))
        if rule.shuffle_options and question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            rng.shuffle(order)
        items.append(
            {
                "question": question.pk,
                "kind": question.kind,
                "stem": question.stem,
                "image": question.image.name if question.image else "",
                "options": list(question.options),
                "answer": question.answer,
                "order": order,
                "score": scores[question.kind],
            }
        )
    return items
