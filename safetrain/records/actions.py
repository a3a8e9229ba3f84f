"""Chinese labels of the audit trail's action codes (REC-03): the operation log shows them, exports them and
searches them ("登录" finds `auth.login`). One entry per code; a code not listed falls back to its family's
label, so a new action never shows as a raw code."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

ACTION_LABELS = {
    "account.admin_update": pgettext_lazy("audit action", "Account edited in the admin"),
    "account.create": pgettext_lazy("audit action", "Account created"),
    "account.phone_erase": pgettext_lazy("audit action", "Phone number erased"),
    "account.profile_update": pgettext_lazy("audit action", "Profile updated"),
    "admin.add": pgettext_lazy("audit action", "Added in the admin"),
    "admin.change": pgettext_lazy("audit action", "Changed in the admin"),
    "anti_cheat.confirmed": pgettext_lazy("audit action", "Cheating confirmed"),
    "anti_cheat.dismissed": pgettext_lazy("audit action", "Suspicion dismissed"),
    "assessment.exam_face_failed": pgettext_lazy("audit action", "Exam face check failed"),
    "assessment.exam_start": pgettext_lazy("audit action", "Exam started"),
    "assessment.exam_submit": pgettext_lazy("audit action", "Exam submitted"),
    "assessment.mock_start": pgettext_lazy("audit action", "Mock exam started"),
    "assessment.mock_submit": pgettext_lazy("audit action", "Mock exam submitted"),
    "assessment.paper_rule": pgettext_lazy("audit action", "Paper rule saved"),
    "assessment.questions_import": pgettext_lazy("audit action", "Questions imported"),
    "auth.2fa_enrol": pgettext_lazy("audit action", "Two-factor sign-in set up"),
    "auth.2fa_verify": pgettext_lazy("audit action", "Two-factor code checked"),
    "auth.lockout": pgettext_lazy("audit action", "Account locked after failed sign-ins"),
    "auth.login": pgettext_lazy("audit action", "Sign-in"),
    "auth.logout": pgettext_lazy("audit action", "Sign-out"),
    "auth.password_change": pgettext_lazy("audit action", "Password changed"),
    "auth.password_reset": pgettext_lazy("audit action", "Password reset"),
    "auth.sessions_ended": pgettext_lazy("audit action", "Other sessions ended"),
    "auth.token_issue": pgettext_lazy("audit action", "API token issued"),
    "certificate.issue.certificate": pgettext_lazy("audit action", "Certificate issued"),
    "certificate.issue.hour_proof": pgettext_lazy("audit action", "Training-hour proof issued"),
    "certificate.mail": pgettext_lazy("audit action", "Certificate mailed"),
    "certificate.revoke": pgettext_lazy("audit action", "Certificate revoked"),
    "certification.revoke": pgettext_lazy("audit action", "Certificate revoked by the supervision platform"),
    "course.answer": pgettext_lazy("audit action", "Course question answered"),
    "course.chapter_add": pgettext_lazy("audit action", "Chapter added"),
    "course.create": pgettext_lazy("audit action", "Course created"),
    "course.legal_basis_add": pgettext_lazy("audit action", "Legal basis added"),
    "course.legal_basis_changed": pgettext_lazy("audit action", "Legal basis changed"),
    "course.lesson_add": pgettext_lazy("audit action", "Lesson added"),
    "course.material_add": pgettext_lazy("audit action", "Material added"),
    "course.publish": pgettext_lazy("audit action", "Course published"),
    "course.question": pgettext_lazy("audit action", "Course question asked"),
    "course.rate": pgettext_lazy("audit action", "Course rated"),
    "course.reviewed": pgettext_lazy("audit action", "Course reviewed"),
    "course.update": pgettext_lazy("audit action", "Course updated"),
    "course.withdraw": pgettext_lazy("audit action", "Course withdrawn"),
    "enrolment.accounts_open": pgettext_lazy("audit action", "Accounts opened"),
    "enrolment.apply": pgettext_lazy("audit action", "Training application submitted"),
    "enrolment.bank_transfer": pgettext_lazy("audit action", "Bank transfer recorded"),
    "enrolment.create": pgettext_lazy("audit action", "Enrolled in a programme"),
    "enrolment.invoice_issued": pgettext_lazy("audit action", "Invoice issued"),
    "enrolment.invoice_rejected": pgettext_lazy("audit action", "Invoice request rejected"),
    "enrolment.invoice_requested": pgettext_lazy("audit action", "Invoice requested"),
    "enrolment.invoice_request": pgettext_lazy("audit action", "Invoice requested"),
    "enrolment.paid": pgettext_lazy("audit action", "Payment received"),
    "enrolment.payment_problem": pgettext_lazy("audit action", "Payment problem"),
    "enrolment.refund": pgettext_lazy("audit action", "Refund"),
    "enrolment.review": pgettext_lazy("audit action", "Application reviewed"),
    "enterprise.account_list_export": pgettext_lazy("audit action", "Account list exported"),
    "enterprise.class_add": pgettext_lazy("audit action", "People added to a class"),
    "enterprise.class_create": pgettext_lazy("audit action", "Class created"),
    "enterprise.class_export": pgettext_lazy("audit action", "Class exported"),
    "enterprise.class_photos": pgettext_lazy("audit action", "Class photos uploaded"),
    "enterprise.person_leave": pgettext_lazy("audit action", "Person left the unit"),
    "enterprise.realname_sync": pgettext_lazy("audit action", "Real-name sync"),
    "enterprise.report_export": pgettext_lazy("audit action", "Report exported"),
    "enterprise.report_people_export": pgettext_lazy("audit action", "Report people exported"),
    "enterprise.roster_import": pgettext_lazy("audit action", "Roster imported"),
    "enterprise.summary_export": pgettext_lazy("audit action", "Training summary exported"),
    "face.check": pgettext_lazy("audit action", "Face check"),
    "face.group_match": pgettext_lazy("audit action", "Group photo matched"),
    "face.photo_approve": pgettext_lazy("audit action", "Reference photo approved"),
    "face.photo_identity_check": pgettext_lazy(
        "audit action", "Reference photo checked with the identity service"
    ),
    "face.photo_reject": pgettext_lazy("audit action", "Reference photo rejected"),
    "face.reference_photo": pgettext_lazy("audit action", "Reference photo uploaded"),
    "face.sign_out": pgettext_lazy("audit action", "Signed out after a failed face check"),
    "integrations.revocations_refused": pgettext_lazy(
        "audit action", "Revocations from the supervision platform refused"
    ),
    "integrations.supervision_discarded": pgettext_lazy(
        "audit action", "Report to the supervision platform discarded"
    ),
    "integrations.supervision_failed": pgettext_lazy(
        "audit action", "Report to the supervision platform failed"
    ),
    "offline_test.paper_create": pgettext_lazy("audit action", "Offline test paper created"),
    "offline_test.score_correct": pgettext_lazy("audit action", "Offline test score corrected"),
    "offline_test.score_enter": pgettext_lazy("audit action", "Offline test score entered"),
    "ops.alarm_acknowledge": pgettext_lazy("audit action", "Alarm acknowledged"),
    "org.admin_update": pgettext_lazy("audit action", "Organisation edited in the admin"),
    "org.create": pgettext_lazy("audit action", "Organisation created"),
    "org.project_status": pgettext_lazy("audit action", "Project status changed"),
    "programme.course_add": pgettext_lazy("audit action", "Course added to a programme"),
    "programme.create": pgettext_lazy("audit action", "Programme created"),
    "programme.offline_session": pgettext_lazy("audit action", "Offline session recorded"),
    "programme.publish": pgettext_lazy("audit action", "Programme published"),
    "quiz.start": pgettext_lazy("audit action", "Quiz started"),
    "quiz.submit": pgettext_lazy("audit action", "Quiz submitted"),
    "records.archive_export.pdf": pgettext_lazy("audit action", "Archive exported as PDF"),
    "records.archive_export.xlsx": pgettext_lazy("audit action", "Archive exported to Excel"),
    "records.audit_export": pgettext_lazy("audit action", "Operation log exported"),
    "records.chain_keyed": pgettext_lazy("audit action", "Record chains keyed"),
    "certification.issued_export": pgettext_lazy("audit action", "Certificate list exported"),
    "regulator.complaint_answer": pgettext_lazy("audit action", "Complaint answered"),
    "regulator.complaint_assign": pgettext_lazy("audit action", "Complaint assigned"),
    "regulator.complaint_close": pgettext_lazy("audit action", "Complaint closed"),
    "regulator.complaint_reopen": pgettext_lazy("audit action", "Complaint reopened"),
    "regulator.complaint_submit": pgettext_lazy("audit action", "Complaint submitted"),
    "regulator.complaints_export": pgettext_lazy("audit action", "Complaint list exported"),
    "regulator.registration_apply": pgettext_lazy("audit action", "Institution registration submitted"),
    "regulator.registration_approve": pgettext_lazy("audit action", "Institution registration approved"),
    "regulator.registration_cancel": pgettext_lazy("audit action", "Institution registration cancelled"),
    "regulator.registration_reinstate": pgettext_lazy("audit action", "Institution registration reinstated"),
    "regulator.registration_reject": pgettext_lazy("audit action", "Institution registration rejected"),
    "regulator.registration_suspend": pgettext_lazy("audit action", "Institution registration suspended"),
    "regulator.registration_withdraw": pgettext_lazy("audit action", "Institution registration withdrawn"),
    "regulator.survey_answer": pgettext_lazy("audit action", "Survey answered"),
    "role.grant": pgettext_lazy("audit action", "Role granted"),
    "role.revoke": pgettext_lazy("audit action", "Role revoked"),
    "video.transcode": pgettext_lazy("audit action", "Video transcoded"),
    "video.upload": pgettext_lazy("audit action", "Video uploaded"),
}

# The part before the first dot.
FAMILY_LABELS = {
    "account": pgettext_lazy("audit action", "Account"),
    "admin": pgettext_lazy("audit action", "Admin"),
    "anti_cheat": pgettext_lazy("audit action", "Anti-cheating"),
    "assessment": pgettext_lazy("audit action", "Exams"),
    "auth": pgettext_lazy("audit action", "Sign-in and security"),
    "certificate": pgettext_lazy("audit action", "Certificates"),
    "certification": pgettext_lazy("audit action", "Certificates"),
    "course": pgettext_lazy("audit action", "Courses"),
    "enrolment": pgettext_lazy("audit action", "Enrolment"),
    "enterprise": pgettext_lazy("audit action", "Unit management"),
    "face": pgettext_lazy("audit action", "Face checks"),
    "integrations": pgettext_lazy("audit action", "Connected systems"),
    "offline_test": pgettext_lazy("audit action", "Offline test"),
    "ops": pgettext_lazy("audit action", "Operations"),
    "org": pgettext_lazy("audit action", "Organisations"),
    "programme": pgettext_lazy("audit action", "Programmes"),
    "quiz": pgettext_lazy("audit action", "Quizzes"),
    "records": pgettext_lazy("audit action", "Records"),
    "regulator": pgettext_lazy("audit action", "Supervision"),
    "role": pgettext_lazy("audit action", "Roles"),
    "video": pgettext_lazy("audit action", "Videos"),
}


def action_label(code: str) -> str:
    """The Chinese label of an action code; its family's label ("登录与安全（其他操作）") when the code is new."""
    label = ACTION_LABELS.get(code)
    if label is not None:
        return str(label)
    family = FAMILY_LABELS.get(code.split(".", 1)[0])
    if family is not None:
        return _("%(family)s (other operation)") % {"family": family}
    return _("Other operation")


def actions_matching(text: str) -> list[str]:
    """The action codes whose label (in the active language) or code contains `text`: the operation log's
    search works on what people read."""
    text = text.strip().lower()
    if not text:
        return []
    return sorted(code for code, label in ACTION_LABELS.items() if text in str(label).lower() or text in code)
