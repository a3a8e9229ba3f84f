"""Touch the statistics cells (`counters`) a membership, enrolment, exam paper, certificate or learner belongs to
when it is saved or deleted. Saves that change nothing counted (`update_fields` without a counted field: the
study engine, last sign-in) cost nothing."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save

from safetrain.regulator import counters

ENROLMENT_FIELDS = {"organisation", "organisation_id", "opened_on", "status", "learner", "learner_id"}
USER_FIELDS = {"sex", "birth_date", "primary_organisation", "primary_organisation_id", "id_number"}
EXAM_FIELDS = {"submitted_at", "passed", "kind"}
CERTIFICATE_FIELDS = {"revoked_at", "issued_on", "enrolment", "enrolment_id"}
MEMBERSHIP_FIELDS = {"is_active", "role", "organisation", "organisation_id", "user", "user_id"}


def _counted(update_fields: Any, fields: set[str]) -> bool:
    return update_fields is None or bool(set(update_fields) & fields)


def membership_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    old = instance.__dict__.pop("_stat_old_organisation", None)
    if _counted(update_fields, MEMBERSHIP_FIELDS):
        # The learner's home unit may move between any of their units.
        cells = counters.home_cells(instance.user_id) | {("learner", instance.organisation_id, None)}
        if old:
            cells.add(("learner", old, None))
        counters.touch(cells)


def membership_before(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    instance.__dict__.pop("_stat_old_organisation", None)
    if instance.pk and _counted(update_fields, {"organisation", "organisation_id"}):
        instance._stat_old_organisation = (
            sender.objects.filter(pk=instance.pk).values_list("organisation_id", flat=True).first()
        )


def enrolment_before(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    instance.__dict__.pop("_stat_old", None)
    if instance.pk and _counted(update_fields, ENROLMENT_FIELDS):
        instance._stat_old = (
            sender.objects.filter(pk=instance.pk).values("organisation_id", "opened_on", "learner_id").first()
        )


def enrolment_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    old = instance.__dict__.pop("_stat_old", None)
    if not _counted(update_fields, ENROLMENT_FIELDS):
        return
    unit = counters.enrolment_unit(instance)
    cells = {("enrol", unit, counters.month_of(instance.opened_on))}
    if old:
        previous = old["organisation_id"] or counters.own_unit(old["learner_id"])
        cells.add(("enrol", previous, counters.month_of(old["opened_on"])))
        if previous != unit:  # its exams and certificates move with it
            cells |= counters.enrolment_cells(instance, unit=previous)
            cells |= counters.enrolment_cells(instance, unit=unit)
    counters.touch(cells)


def exam_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.kind == "exam" and instance.submitted_at and _counted(update_fields, EXAM_FIELDS):
        unit = counters.enrolment_unit(instance.enrolment)
        counters.touch({("exam", unit, counters.month_of(instance.submitted_at))})


def certificate_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if _counted(update_fields, CERTIFICATE_FIELDS):
        unit = counters.enrolment_unit(instance.enrolment)
        counters.touch({("cert", unit, counters.month_of(instance.issued_on))})


def user_before(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    instance.__dict__.pop("_stat_old", None)
    if instance.pk and _counted(update_fields, USER_FIELDS):
        instance._stat_old = (
            sender.objects.filter(pk=instance.pk)
            .values("sex", "birth_date", "primary_organisation_id")
            .first()
        )


def user_changed(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    old = instance.__dict__.pop("_stat_old", None)
    if created or not old:
        return
    if (old["sex"], old["birth_date"], old["primary_organisation_id"]) != (
        instance.sex,
        instance.birth_date,
        instance.primary_organisation_id,
    ):
        cells = counters.learner_cells(instance.pk, units=[old["primary_organisation_id"]])
        if old["primary_organisation_id"]:
            cells.add(("learner", old["primary_organisation_id"], None))
        counters.touch(cells)


def _wiring() -> list[tuple[Any, Any, Any, str]]:
    from safetrain.accounts.models import Membership, User
    from safetrain.assessment.models import ExamAttempt
    from safetrain.certification.models import Certificate
    from safetrain.learning.models import Enrolment

    return [
        (pre_save, membership_before, Membership, "membership.pre"),
        (post_save, membership_changed, Membership, "membership"),
        (post_delete, membership_changed, Membership, "membership.delete"),
        (pre_save, enrolment_before, Enrolment, "enrolment.pre"),
        (post_save, enrolment_changed, Enrolment, "enrolment"),
        (post_delete, enrolment_changed, Enrolment, "enrolment.delete"),
        (post_save, exam_changed, ExamAttempt, "exam"),
        (post_delete, exam_changed, ExamAttempt, "exam.delete"),
        (post_save, certificate_changed, Certificate, "certificate"),
        (post_delete, certificate_changed, Certificate, "certificate.delete"),
        (pre_save, user_before, User, "user.pre"),
        (post_save, user_changed, User, "user"),
    ]


def connect() -> None:
    for signal, receiver, sender, uid in _wiring():
        signal.connect(receiver, sender=sender, dispatch_uid=f"regulator.statistics.{uid}")


def disconnect() -> None:
    """Stop keeping the cube (the benchmark's reference writes; a rebuild brings it back)."""
    for signal, _receiver, sender, uid in _wiring():
        signal.disconnect(sender=sender, dispatch_uid=f"regulator.statistics.{uid}")
