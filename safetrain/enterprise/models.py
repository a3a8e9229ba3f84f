"""People of an enterprise or construction project (ENT-01) and the roster imports that brought them (ENT-02)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safetrain.core.fields import EncryptedTextField


class Personnel(models.Model):
    """A person working for a unit: job type, on site or left (离场). Teams are memberships of team organisations."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="personnel", verbose_name=_("unit")
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="personnel")
    job_type = models.ForeignKey(
        "catalog.JobType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("job type"),
    )
    on_site = models.BooleanField(_("on site"), default=True)
    # The job code the real-name system last gave (ENT-03): a job type fixed here by an admin is kept until the
    # real-name system's code changes.
    realname_job_code = models.CharField(max_length=40, blank=True)
    joined_on = models.DateField(_("joined on"))
    left_on = models.DateField(_("left on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "pk"]
        verbose_name = _("person at a unit")
        verbose_name_plural = _("people at units")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="personnel_once_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.organisation_id}"


class RosterImport(models.Model):
    """One imported roster file: who, when, which file (SHA-256), the header block of the Guangzhou form, and what
    it did. Kept as the record of where accounts came from."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="roster_imports"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    template = models.CharField(max_length=12)
    header = models.JSONField(
        default=dict, help_text="单位名称, 联系人, 联系电话, mailing and invoice details"
    )
    rows = models.JSONField(
        default=list, help_text="[{row, name, id_index, certificate_type, training_kind, outcome}]"
    )
    created = models.PositiveIntegerField(default=0)
    linked = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    left_out = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")

    def __str__(self) -> str:
        return self.filename


class RealNameProject(models.Model):
    """A project's code in the construction real-name system (两制平台, ENT-03): its people come from there."""

    project = models.OneToOneField(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="realname", verbose_name=_("project")
    )
    code = models.CharField(_("real-name system project code"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("real-name project")
        verbose_name_plural = _("real-name projects")

    def __str__(self) -> str:
        return self.code


class RealNameSync(models.Model):
    """One sync with the real-name system (实名制同步): what it did, or why it failed (then nothing changed)."""

    project = models.ForeignKey(
        "orgs.Organisation",
        on_delete=models.PROTECT,
        related_name="realname_syncs",
        verbose_name=_("project"),
    )
    at = models.DateTimeField(verbose_name=_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by")
    )
    first = models.BooleanField(
        default=False, help_text="the project's first sync (all on-duty people)", verbose_name=_("first sync")
    )
    ok = models.BooleanField(default=True, verbose_name=_("succeeded"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    joined = models.PositiveIntegerField(default=0, verbose_name=_("joined"))
    left = models.PositiveIntegerField(default=0, verbose_name=_("left"))
    changed = models.PositiveIntegerField(default=0, verbose_name=_("changed"))
    unchanged = models.PositiveIntegerField(default=0, verbose_name=_("unchanged"))
    remote_on_site = models.PositiveIntegerField(null=True, verbose_name=_("on site (remote)"))
    local_on_site = models.PositiveIntegerField(null=True, verbose_name=_("on site (here)"))
    report = models.JSONField(
        default=dict,
        help_text="joined, left, changed, refused rows, unmapped job codes, head-count differences",
        verbose_name=_("report"),
    )

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("real-name sync")
        verbose_name_plural = _("real-name syncs")

    def __str__(self) -> str:
        return f"sync of {self.project_id} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def counts_match(self) -> bool:
        return self.remote_on_site is not None and self.remote_on_site == self.local_on_site


class TrainingClass(models.Model):
    """开班培训 (ENT-04): a unit's class in one programme; its members are enrolled in it. Group sessions of the
    class (集中培训) are offline sessions with the signed attendance sheet and the face photos (FACE-06)."""

    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="training_classes", verbose_name=_("unit")
    )
    programme = models.ForeignKey(
        "catalog.Programme", on_delete=models.PROTECT, related_name="+", verbose_name=_("programme")
    )
    name = models.CharField(_("class name"), max_length=120)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "-pk"]
        verbose_name = _("training class")
        verbose_name_plural = _("training classes")

    def __str__(self) -> str:
        return self.name


class ClassMember(models.Model):
    """A person in a class, through their enrolment in the class's programme (kept for the record)."""

    training_class = models.ForeignKey(TrainingClass, on_delete=models.PROTECT, related_name="members")
    enrolment = models.ForeignKey("learning.Enrolment", on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["training_class", "enrolment"], name="class_member_once")
        ]
        verbose_name = _("class member")
        verbose_name_plural = _("class members")

    def __str__(self) -> str:
        return f"{self.training_class_id}/{self.enrolment_id}"


class ClassGroupSession(models.Model):
    """A group session of a class (企业集中培训): the offline session holding its attendance, sheet and photos."""

    training_class = models.ForeignKey(TrainingClass, on_delete=models.PROTECT, related_name="group_sessions")
    session = models.OneToOneField(
        "catalog.OfflineSession", on_delete=models.PROTECT, related_name="training_class_link"
    )

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("class group session")
        verbose_name_plural = _("class group sessions")

    def __str__(self) -> str:
        return f"{self.training_class_id}/{self.session_id}"


# Enrolment applications, fees, payments and invoices (ENR-01..03) ---------------------------------------------


class EnrolmentCall(models.Model):
    """An organiser's call for enrolment (报名通知, seeds/002): the programmes for initial training and for the
    annual refresher with their fees (on the programmes), the study window after the account is opened, and
    where bank transfers go."""

    organiser = models.ForeignKey(
        "orgs.Organisation",
        on_delete=models.PROTECT,
        related_name="enrolment_calls",
        verbose_name=_("organiser"),
    )
    title = models.CharField(_("title"), max_length=200)
    initial_programme = models.ForeignKey(
        "catalog.Programme", on_delete=models.PROTECT, related_name="+", verbose_name=_("initial training")
    )
    refresher_programme = models.ForeignKey(
        "catalog.Programme",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("refresher training"),
    )
    study_days = models.PositiveSmallIntegerField(_("days to finish after the account is opened"), default=30)
    payee_name = models.CharField(_("payee"), max_length=120, blank=True)
    payee_bank = models.CharField(_("bank"), max_length=120, blank=True)
    payee_account = models.CharField(_("account number"), max_length=40, blank=True)
    is_open = models.BooleanField(_("open for applications"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("call for enrolment")
        verbose_name_plural = _("calls for enrolment")

    def __str__(self) -> str:
        return self.title


class ApplicantKind(models.TextChoices):
    UNIT = "unit", _("Unit")
    INDIVIDUAL = "individual", _("Individual")


class ApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class EnrolmentApplication(models.Model):
    """A unit's or an individual's application (ENR-01): contact, where to mail the certificates, the trainees.
    Personal details are encrypted at rest (ACC-08). `token` opens the application's page for the applicant."""

    call = models.ForeignKey(EnrolmentCall, on_delete=models.PROTECT, related_name="applications")
    kind = models.CharField(max_length=10, choices=ApplicantKind.choices)
    unit = models.ForeignKey(
        "orgs.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit_name = models.CharField(_("unit name"), max_length=120, blank=True)
    contact_name = EncryptedTextField(_("contact person"))
    contact_phone = EncryptedTextField(_("contact phone"))
    mail_recipient = EncryptedTextField(_("recipient"))
    mail_phone = EncryptedTextField(_("recipient's phone"))
    mail_address = EncryptedTextField(_("mailing address"))
    token = models.CharField(max_length=43, unique=True, editable=False)
    source_sha256 = models.CharField(max_length=64, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.SUBMITTED
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    # 附件1's invoice block (开票单位信息): requested as soon as the order is paid.
    invoice_buyer = models.CharField(max_length=120, blank=True)
    invoice_taxpayer_id = models.CharField(max_length=18, blank=True)
    invoice_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("enrolment application")
        verbose_name_plural = _("enrolment applications")

    def __str__(self) -> str:
        return f"{self.unit_name or self.kind} {self.submitted_at:%Y-%m-%d}"


class CertificateType(models.TextChoices):
    PRINCIPAL = "principal", _("Principal person")
    SAFETY_MANAGER = "safety_manager", _("Safety manager")


class TrainingKind(models.TextChoices):
    INITIAL = "initial", _("Initial training")
    REFRESHER = "refresher", _("Refresher training")


class ApplicationTrainee(models.Model):
    application = models.ForeignKey(EnrolmentApplication, on_delete=models.PROTECT, related_name="trainees")
    row = models.PositiveIntegerField(default=0)
    name = EncryptedTextField(pgettext_lazy("person", "name"))
    id_number = EncryptedTextField(_("ID number"))
    id_index = models.CharField(max_length=64, db_index=True)
    phone = EncryptedTextField(_("phone"))
    certificate_type = models.CharField(max_length=16, choices=CertificateType.choices)
    training_kind = models.CharField(max_length=10, choices=TrainingKind.choices)
    programme = models.ForeignKey("catalog.Programme", on_delete=models.PROTECT, related_name="+")
    fee = models.DecimalField(max_digits=8, decimal_places=2)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    enrolment = models.ForeignKey(
        "learning.Enrolment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    # The enrolment was made (or made live again) for this application: a refund voids only such enrolments.
    opened_enrolment = models.BooleanField(default=False)

    class Meta:
        ordering = ["application", "row", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["application", "id_index"], name="trainee_once_per_application")
        ]
        verbose_name = _("applied trainee")
        verbose_name_plural = _("applied trainees")

    def __str__(self) -> str:
        return f"{self.application_id}/{self.row}"


class OrderState(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Paid")
    REFUNDED = "refunded", _("Refunded")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentMethod(models.TextChoices):
    GATEWAY = "gateway", _("Scan to pay")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class Order(models.Model):
    """The fees of one application (ENR-02): one amount, paid once by scan-to-pay or by bank transfer."""

    application = models.OneToOneField(EnrolmentApplication, on_delete=models.PROTECT, related_name="order")
    number = models.CharField(_("order number"), max_length=24, unique=True)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=10, decimal_places=2)
    state = models.CharField(_("payment state"), max_length=10, choices=OrderState.choices, default="unpaid")
    method = models.CharField(max_length=14, choices=PaymentMethod.choices, blank=True)
    gateway_ref = models.CharField(max_length=64, blank=True)
    pay_url = models.CharField(max_length=300, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return self.number


class Payment(models.Model):
    """A payment received for an order: the gateway's notification or a reconciled bank transfer. Kept as the
    record; `reference` (the gateway's transaction or the bank's serial) is unique: nothing is counted twice."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=14, choices=PaymentMethod.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    reference = models.CharField(max_length=80, unique=True)
    payer = EncryptedTextField(blank=True)
    memo = EncryptedTextField(blank=True)
    problem = models.CharField(
        max_length=20,
        blank=True,
        help_text="amount_differs or not_payable: money received that did not pay the order (to refund)",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return self.reference


class BankTransfer(models.Model):
    """A line of the payee's bank statement entered by staff for reconciliation (对公转账: the memo carries the
    trainees' names)."""

    organiser = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="+", verbose_name=_("organiser")
    )
    reference = models.CharField(_("bank serial number"), max_length=64)
    day = models.DateField(_("date"))
    amount = models.DecimalField(_("amount (yuan)"), max_digits=10, decimal_places=2)
    payer = EncryptedTextField(_("payer"))
    memo = EncryptedTextField(_("memo"), blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-pk"]
        constraints = [models.UniqueConstraint(fields=["organiser", "reference"], name="bank_transfer_once")]
        verbose_name = _("bank transfer")
        verbose_name_plural = _("bank transfers")

    def __str__(self) -> str:
        return self.reference


class InvoiceState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected")


class InvoiceRequest(models.Model):
    """An e-invoice request for a paid order (ENR-03): buyer, taxpayer ID (统一社会信用代码), e-mail; due within five
    working days."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoice_requests")
    buyer_name = models.CharField(_("buyer's full name"), max_length=120)
    taxpayer_id = models.CharField(_("taxpayer ID"), max_length=18, blank=True)
    email = models.EmailField(_("e-mail for the e-invoice"))
    state = models.CharField(max_length=10, choices=InvoiceState.choices, default=InvoiceState.REQUESTED)
    requested_at = models.DateTimeField(_("requested at"))
    due_on = models.DateField(_("invoice due by"))
    invoice_number = models.CharField(_("invoice number"), max_length=40, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=~models.Q(state="rejected"), name="one_live_invoice_request"
            )
        ]
        verbose_name = _("invoice request")
        verbose_name_plural = _("invoice requests")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.buyer_name}"


class JobState(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Import failed")


class RosterJob(models.Model):
    """A large roster imported in the background (ENT-02): opening hundreds of accounts hashes hundreds of initial
    passwords, minutes of work that must not hold a web request. The page follows `done` of `total`."""

    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=200)
    file = models.FileField(upload_to="rosters/")
    valid_rows_only = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(
        default=dict, help_text="created, linked, unchanged, left_out, imported, errors"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("roster job")
        verbose_name_plural = _("roster jobs")

    def __str__(self) -> str:
        return self.filename
