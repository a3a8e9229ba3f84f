"""ENR-01..03: enrolment applications (a unit's form, an individual), review, fees and orders, scan-to-pay through
the payment gateway (a reference server of its signed protocol on 127.0.0.1), bank-transfer reconciliation,
account opening with the 30-day window and a notice, refunds, invoice requests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from conftest import make_org, make_user, new_id_number, web_client_for
from safetrain.accounts.models import Notice, Role, User, id_index_of
from safetrain.catalog.tests.factories import published_programme
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.enterprise import applications
from safetrain.enterprise.models import (
    ApplicationStatus,
    EnrolmentApplication,
    EnrolmentCall,
    InvoiceState,
    Order,
    OrderState,
    Payment,
)
from safetrain.enterprise.tests.test_roster import guangzhou_form
from safetrain.integrations.payments import HttpPaymentGateway, PaymentUnavailable
from safetrain.integrations.tests.payment_server import GatewayData, start
from safetrain.learning.models import Enrolment, EnrolmentStatus
from safetrain.orgs.models import OrganisationKind
from safetrain.orgs.services import make_uscc
from safetrain.records.models import AuditEntry


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def gateway(settings):
    data = GatewayData()
    server, url = start(data)
    settings.PAYMENT_GATEWAY_URL, settings.PAYMENT_MERCHANT_ID, settings.PAYMENT_SECRET = (
        url,
        data.merchant_id,
        data.secret,
    )
    yield data
    server.shutdown()


class Setup:
    def __init__(self, world):
        from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
        from safetrain.learning.tests.conftest import video_of

        self.world = world
        self.institution = make_org("广州市安全生产培训中心", OrganisationKind.INSTITUTION, "440106")
        self.staff = make_user(
            self.institution, Role.INSTITUTION_ADMIN, name="培训中心管理员", region="440106"
        )
        course = course_create(code="GZ-APP", title="主要负责人课程")
        lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
        course_publish(course=course)
        self.initial = published_programme("gz-app-initial", [course], kind="initial", required_minutes=1)
        self.refresher = published_programme(
            "gz-app-refresher", [course], kind="refresher", required_minutes=1
        )
        self.initial.fee, self.refresher.fee = Decimal(800), Decimal(300)
        self.initial.save(update_fields=["fee"])
        self.refresher.save(update_fields=["fee"])
        self.call = EnrolmentCall.objects.create(
            organiser=self.institution,
            title="2026年度主要负责人和安全生产管理人员线上培训",
            initial_programme=self.initial,
            refresher_programme=self.refresher,
            payee_name="广东课通安全技术咨询有限公司",
            payee_bank="中国建设银行广州福今支行",
            payee_account="44050140070700001028",
        )
        self.ids = [new_id_number("440106"), new_id_number("440106")]

    def form(self, rows=None, invoice_title: str = "") -> bytes:
        """The form without its invoice block (the invoice is then requested on the application's page)."""
        return guangzhou_form(
            rows
            or [
                ["张伟", self.ids[0], "13700137101", "主要负责人", "初始培训"],
                ["刘芳", self.ids[1], "13700137102", "安全生产管理人员", "再培训"],
            ],
            invoice_title=invoice_title,
        )

    def apply(self, rows=None) -> EnrolmentApplication:
        # The file as sent: a workbook saved a second later differs (it holds its save time).
        self.sent = self.form(rows)
        result = applications.application_from_file(
            call=self.call, data=self.sent, unit=self.world.ent_nanshan, actor=self.world.admin_nanshan
        )
        assert result.errors == []
        return result.application


@pytest.fixture
def setup(world):
    return Setup(world)


def test_enr_01_02_a_units_form_becomes_an_application_with_an_order_of_the_fees(setup, world):
    application = setup.apply()
    assert application.unit == world.ent_nanshan
    assert application.unit_name == "南山建设公司"
    assert (application.contact_name, application.mail_recipient, application.mail_address) == (
        "李四",
        "王五",
        "深圳市南山区科技园1号",
    )
    trainees = list(application.trainees.order_by("row"))
    assert [(t.name, t.certificate_type, t.training_kind, t.programme, t.fee) for t in trainees] == [
        ("张伟", "principal", "initial", setup.initial, Decimal(800)),
        ("刘芳", "safety_manager", "refresher", setup.refresher, Decimal(300)),
    ]
    assert application.order.amount == Decimal("1100.00")
    assert application.order.state == OrderState.UNPAID
    assert application.order.number.startswith("DD")
    assert application.status == ApplicationStatus.SUBMITTED
    # Sending the same file again gives the same application, not a second order.
    again = applications.application_from_file(
        call=setup.call, data=setup.sent, unit=world.ent_nanshan, actor=world.admin_nanshan
    )
    assert again.again
    assert again.application == application
    assert Order.objects.count() == 1
    # Nothing personal in the database in plain text.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT contact_name, mail_address FROM enterprise_enrolmentapplication")
        assert "李四" not in str(cursor.fetchall())


def test_enr_01_every_faulty_row_is_reported_and_nothing_is_saved(setup, world):
    result = applications.application_from_file(
        call=setup.call,
        data=setup.form(
            [
                ["张伟", "440106199001011234", "13700137101", "主要负责人", "初始培训"],  # bad check digit
                ["刘芳", setup.ids[1], "", "安全生产管理人员", "再培训"],  # no phone: none kept in Guangdong
                ["王强", setup.ids[0], "13700137103", "总经理", "复训"],  # unknown type and kind
            ]
        ),
        unit=world.ent_nanshan,
        actor=world.admin_nanshan,
    )
    found = {(e.row, e.column) for e in result.errors}
    assert {(8, "身份证号码"), (10, "证书类型"), (10, "培训类别")} <= found
    assert (9, "手机号码") not in found  # POL-PHONE, GD#14; where phones are kept: test_phone_policy.py
    assert all(e.message for e in result.errors)
    assert not EnrolmentApplication.objects.exists()
    # A call without a refresher programme refuses 再培训 rows, saying so.
    setup.call.refresher_programme = None
    setup.call.save()
    result = applications.application_from_file(
        call=setup.call, data=setup.form(), unit=world.ent_nanshan, actor=world.admin_nanshan
    )
    assert [(e.row, e.column) for e in result.errors] == [(9, "培训类别")]
    assert "只接受初始培训" in result.errors[0].message
    with pytest.raises(PermissionDenied):
        applications.application_from_file(
            call=setup.call, data=setup.form(), unit=world.ent_nanshan, actor=world.admin_futian
        )
    setup.call.is_open = False
    setup.call.save()
    with pytest.raises(DomainError, match="已截止"):
        applications.application_from_file(call=setup.call, data=setup.form(), unit=world.ent_nanshan)


def test_enr_01_02_paid_by_scanning_and_approved_the_accounts_open_with_the_window_and_a_notice(
    setup, world, gateway, client
):
    application = setup.apply()
    order = applications.pay_start(application.order)
    assert order.pay_url.startswith("https://pay.example.cn/qr/")
    assert gateway.payments[order.number]["amount"] == "1100.00"
    assert gateway.payments[order.number]["notify_url"].endswith("/enrol/payments/notify/")
    # A forged notification (wrong key) changes nothing; one with the wrong amount (money did arrive) is recorded
    # for staff to refund and books nothing.
    body, _signature = gateway.pay(order.number)
    forged = client.post(
        "/enrol/payments/notify/", body, content_type="application/json", HTTP_X_SIGNATURE="0" * 64
    )
    assert forged.status_code == 400
    gateway.payments[order.number]["payment_id"] = "P-first"  # the gateway's id of that payment
    cheap, cheap_signature = gateway.pay(order.number, amount=Decimal("1.00"))
    answer = client.post(
        "/enrol/payments/notify/", cheap, content_type="application/json", HTTP_X_SIGNATURE=cheap_signature
    )
    assert answer.status_code == 200
    assert Payment.objects.get(reference="GW-P-first").problem == "amount_differs"
    order.refresh_from_db()
    assert order.state == OrderState.UNPAID
    gateway.payments[order.number]["payment_id"] = "P-second"
    # The real notification books it, once, however often it comes.
    body, signature = gateway.pay(order.number)
    for _ in range(2):
        answer = client.post(
            "/enrol/payments/notify/", body, content_type="application/json", HTTP_X_SIGNATURE=signature
        )
        assert answer.status_code == 200
        assert answer.content == b"success"
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert order.method == "gateway"
    assert Payment.objects.filter(order=order, problem="").count() == 1
    # Paid but not reviewed: no accounts yet.
    assert not User.objects.filter(id_index=id_index_of(setup.ids[0])).exists()
    applications.application_review(application=application, approve=True, actor=setup.staff)
    today = timezone.localdate()
    for trainee in application.trainees.all():
        user = User.objects.get(id_index=trainee.id_index)
        assert user.must_change_password  # the initial password
        enrolment = Enrolment.objects.get(learner=user, programme=trainee.programme)
        assert enrolment.deadline == today + dt.timedelta(days=30)
        assert enrolment.organisation == world.ent_nanshan
        notice = Notice.objects.get(user=user)
        assert "已开通" in notice.title
        assert enrolment.deadline.isoformat() in notice.body
    assert AuditEntry.objects.filter(action="enrolment.accounts_open").count() == 1
    # The trainee sees the notice on the dashboard.
    trainee = User.objects.get(id_index=id_index_of(setup.ids[0]))
    trainee.must_change_password = False  # as after the first sign-in
    trainee.save(update_fields=["must_change_password"])
    assert "学习账号已开通" in web_client_for(trainee).get("/").content.decode()


def test_enr_02_the_payer_can_ask_the_gateway_when_the_notification_is_lost(setup, gateway):
    application = setup.apply()
    applications.application_review(application=application, approve=True, actor=setup.staff)
    order = applications.pay_start(application.order)
    assert applications.pay_check(order).state == OrderState.UNPAID
    gateway.pay(order.number)  # paid, the notification never arrives
    assert applications.pay_check(order).state == OrderState.PAID
    assert application.trainees.filter(opened_at__isnull=False).count() == 2  # approved earlier: opened now


def test_enr_02_gateway_failures_are_said_in_chinese_and_change_nothing(setup, gateway, settings):
    application = setup.apply()
    gateway.fail = True
    with pytest.raises(PaymentUnavailable, match="HTTP 500"):
        applications.pay_start(application.order)
    gateway.fail = False
    gateway.forge_answers = True
    with pytest.raises(PaymentUnavailable, match="签名"):
        applications.pay_start(application.order)
    settings.PAYMENT_GATEWAY_URL = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(PaymentUnavailable, match="无法连接"):
        applications.pay_start(application.order)
    settings.PAYMENT_GATEWAY_URL = ""
    with pytest.raises(PaymentUnavailable, match="银行转账"):
        HttpPaymentGateway("", "", "")
    application.order.refresh_from_db()
    assert application.order.pay_url == ""
    assert application.order.state == OrderState.UNPAID


def test_enr_02_a_bank_transfer_is_booked_by_amount_and_the_trainees_names(setup):
    application = setup.apply()
    other = setup.apply(
        [
            ["赵敏", new_id_number("440106"), "13700137201", "主要负责人", "初始培训"],
            ["钱进", new_id_number("440106"), "13700137202", "安全生产管理人员", "再培训"],
        ]
    )
    staff = setup.staff
    transfer = applications.bank_transfer_record(
        organiser=setup.institution,
        reference="B20261201001",
        day=timezone.localdate(),
        amount=Decimal("1100.00"),
        payer="南山建设公司",
        memo="培训费 张伟 刘芳",
        actor=staff,
    )
    with pytest.raises(DomainError, match="已录入"):
        applications.bank_transfer_record(
            organiser=setup.institution,
            reference="B20261201001",
            day=timezone.localdate(),
            amount=Decimal(1),
            payer="x",
            memo="",
            actor=staff,
        )
    candidates = applications.bank_candidates(transfer)
    assert [(order, missing) for order, missing in candidates] == [
        (application.order, []),
        (other.order, ["赵敏", "钱进"]),
    ]
    # The memo does not name the other order's trainees: refused unless staff checked with the payer.
    with pytest.raises(DomainError, match="赵敏、钱进"):
        applications.bank_transfer_match(transfer=transfer, order=other.order, actor=staff)
    applications.bank_transfer_match(transfer=transfer, order=application.order, actor=staff)
    application.order.refresh_from_db()
    assert application.order.state == OrderState.PAID
    assert application.order.method == "bank_transfer"
    with pytest.raises(DomainError, match="已入账"):
        applications.bank_transfer_match(transfer=transfer, order=other.order, actor=staff)
    # A transfer of another amount is refused; one without names is booked once staff confirm.
    short = applications.bank_transfer_record(
        organiser=setup.institution,
        reference="B20261201002",
        day=timezone.localdate(),
        amount=Decimal("800.00"),
        payer="个人",
        memo="",
        actor=staff,
    )
    with pytest.raises(DomainError, match="800.00.*1100.00"):
        applications.bank_transfer_match(transfer=short, order=other.order, actor=staff, without_names=True)
    unnamed = applications.bank_transfer_record(
        organiser=setup.institution,
        reference="B20261201003",
        day=timezone.localdate(),
        amount=Decimal("1100.00"),
        payer="某公司",
        memo="",
        actor=staff,
    )
    applications.bank_transfer_match(transfer=unnamed, order=other.order, actor=staff, without_names=True)
    other.order.refresh_from_db()
    assert other.order.state == OrderState.PAID
    with pytest.raises(PermissionDenied):
        applications.bank_transfer_match(transfer=short, order=other.order, actor=setup.world.admin_nanshan)


def test_enr_01_review_rejects_with_a_reason_and_never_a_paid_application(setup):
    application = setup.apply()
    with pytest.raises(DomainError, match="驳回原因|说明"):
        applications.application_review(application=application, approve=False, actor=setup.staff)
    with pytest.raises(PermissionDenied):
        applications.application_review(
            application=application, approve=True, actor=setup.world.admin_nanshan
        )
    applications.application_review(
        application=application, approve=False, note="名单与营业执照不符", actor=setup.staff
    )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED
    assert application.order.state == OrderState.CANCELLED
    with pytest.raises(DomainError, match="已审核"):
        applications.application_review(application=application, approve=True, actor=setup.staff)
    paid = setup.apply([["孙立", new_id_number("440106"), "13700137301", "主要负责人", "初始培训"]])
    applications.payment_received(
        order=paid.order, method="bank_transfer", amount=Decimal(800), reference="X1"
    )
    with pytest.raises(DomainError, match="退款"):
        applications.application_review(application=paid, approve=False, note="重复报名", actor=setup.staff)


def test_enr_02_a_refund_voids_the_accounts_and_none_after_the_window_lapses(setup):
    application = setup.apply()
    applications.application_review(application=application, approve=True, actor=setup.staff)
    applications.payment_received(
        order=application.order, method="bank_transfer", amount=Decimal(1100), reference="R1"
    )
    with pytest.raises(DomainError, match="原因"):
        applications.order_refund(order=application.order, note="", actor=setup.staff)
    applications.order_refund(order=application.order, note="单位取消参训", actor=setup.staff)
    assert set(
        Enrolment.objects.filter(pk__in=application.trainees.values("enrolment")).values_list(
            "status", flat=True
        )
    ) == {EnrolmentStatus.VOID}
    late = setup.apply([["周强", new_id_number("440106"), "13700137401", "主要负责人", "初始培训"]])
    applications.application_review(application=late, approve=True, actor=setup.staff)
    applications.payment_received(order=late.order, method="gateway", amount=Decimal(800), reference="R2")
    Enrolment.objects.filter(pk__in=late.trainees.values("enrolment")).update(
        deadline=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(DomainError, match="不予退还|不退"):
        applications.order_refund(order=late.order, note="没时间学", actor=setup.staff)
    late.order.refresh_from_db()
    assert late.order.state == OrderState.PAID


def test_enr_03_an_invoice_is_requested_with_a_valid_taxpayer_id_and_issued_within_five_working_days(setup):
    application = setup.apply()
    with pytest.raises(DomainError, match="缴费"):
        applications.invoice_request(
            order=application.order, buyer_name="南山建设公司", taxpayer_id="", email="a@b.cn"
        )
    applications.payment_received(
        order=application.order, method="gateway", amount=Decimal(1100), reference="I1"
    )
    uscc = make_uscc("440305", 777)
    bad = uscc[:-1] + ("0" if uscc[-1] != "0" else "1")
    for kwargs, message in [
        (dict(buyer_name="南山建设公司", taxpayer_id=bad, email="a@b.cn"), "校验"),
        (dict(buyer_name="南山建设公司", taxpayer_id="", email="a@b.cn"), "纳税人识别号"),
        (dict(buyer_name="", taxpayer_id=uscc, email="a@b.cn"), "全称"),
        (dict(buyer_name="南山建设公司", taxpayer_id=uscc, email="not-an-email"), "电子邮箱"),
    ]:
        with pytest.raises(DomainError, match=message):
            applications.invoice_request(order=application.order, **kwargs)
    request = applications.invoice_request(
        order=application.order, buyer_name="南山建设公司", taxpayer_id=uscc.lower(), email="cw@example.cn"
    )
    assert request.taxpayer_id == uscc
    import chinese_calendar

    today = timezone.localdate()
    assert (request.due_on - today).days >= 7  # five working days span at least a week
    assert chinese_calendar.is_workday(request.due_on)
    with pytest.raises(DomainError, match="已申请"):
        applications.invoice_request(
            order=application.order, buyer_name="南山建设公司", taxpayer_id=uscc, email="cw@example.cn"
        )
    with pytest.raises(DomainError):
        applications.invoice_handle(request=request, actor=setup.staff)
    applications.invoice_handle(request=request, actor=setup.staff, invoice_number="26440000000012345678")
    request.refresh_from_db()
    assert request.state == InvoiceState.ISSUED
    with pytest.raises(DomainError, match="已处理"):
        applications.invoice_handle(request=request, actor=setup.staff, reason="x")


def test_enr_03_working_days_skip_the_national_holidays():
    # 2026: 国庆节 1-7 October holidays, 10 October (Saturday) a working day in exchange (State Council notice).
    assert applications.add_working_days(dt.date(2026, 9, 30), 1) == dt.date(2026, 10, 8)
    assert applications.add_working_days(dt.date(2026, 12, 4), 5) == dt.date(2026, 12, 11)  # a plain week
    assert applications.add_working_days(dt.date(2099, 1, 2), 1) == dt.date(
        2099, 1, 5
    )  # beyond the calendar: Mon-Fri


def test_enr_01_an_individual_applies_and_follows_the_application_on_its_page(setup, gateway, client):
    number = new_id_number("440106")
    values = {
        "name": "吴敏",
        "id_number": number,
        "phone": "13700137501",
        "certificate_type": "安全生产管理人员",
        "training_kind": "初始培训",
        "recipient": "吴敏",
        "recipient_phone": "13700137501",
        "address": "",
    }
    page = client.post(f"/enrol/{setup.call.pk}/individual/", values)
    assert page.status_code == 400
    assert "这个字段是必须的" in page.content.decode()
    assert not EnrolmentApplication.objects.exists()
    # The service says the same for a blank address, and for a bad ID number, each on its field.
    result = applications.application_individual(
        call=setup.call,
        values={**values, "address": "   ", "id_number": number[:-1] + ("1" if number[-1] != "1" else "2")},
    )
    assert {e.column for e in result.errors} >= {"地址", "身份证号码"}
    assert "邮寄" in next(e.message for e in result.errors if e.column == "地址")
    values["address"] = "广州市越秀区三育路13号"
    page = client.post(f"/enrol/{setup.call.pk}/individual/", values)
    application = EnrolmentApplication.objects.get()
    assert page["Location"] == f"/enrol/applications/{application.token}/"
    assert application.kind == "individual"
    assert application.order.amount == Decimal(800)
    html = client.get(page["Location"]).content.decode()
    assert "吴敏" in html
    assert "44050140070700001028" in html  # bank transfer details
    assert f"吴敏 {application.order.number}" in html  # the memo to write
    client.post(page["Location"], {"action": "pay"})
    assert "<svg" in client.get(page["Location"]).content.decode()  # the QR code to scan
    gateway.pay(application.order.number)
    checked = client.post(page["Location"], {"action": "check"}, follow=True).content.decode()
    assert "已到账" in checked
    # An individual's invoice needs no taxpayer ID.
    client.post(
        page["Location"],
        {"action": "invoice", "buyer_name": "吴敏", "taxpayer_id": "", "email": "wm@example.cn"},
    )
    assert application.order.invoice_requests.get().state == InvoiceState.REQUESTED
    assert client.get("/enrol/applications/" + "x" * 43 + "/").status_code == 404


def test_enr_01_the_staff_pages_review_book_transfers_and_issue_invoices(setup, world):
    application = setup.apply()
    staff = web_client_for(setup.staff)
    listing = staff.get("/enrol/manage/").content.decode()
    assert "南山建设公司" in listing
    assert web_client_for(world.admin_futian).get(f"/enrol/manage/{application.pk}/").status_code == 404
    staff.post(f"/enrol/manage/{application.pk}/", {"action": "approve", "note": ""})
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    staff.post(
        "/enrol/manage/transfers/",
        {
            "reference": "B1",
            "day": timezone.localdate().isoformat(),
            "amount": "1100.00",
            "payer": "南山建设公司",
            "memo": "张伟 刘芳",
        },
    )
    page = staff.get("/enrol/manage/transfers/").content.decode()
    assert application.order.number in page
    from safetrain.enterprise.models import BankTransfer

    transfer = BankTransfer.objects.get()
    staff.post(f"/enrol/manage/transfers/{transfer.pk}/match/", {"order": application.order.pk})
    application.order.refresh_from_db()
    assert application.order.state == OrderState.PAID
    assert application.trainees.filter(opened_at__isnull=False).count() == 2
    applications.invoice_request(
        order=application.order,
        buyer_name="南山建设公司",
        taxpayer_id=make_uscc("440305", 901),
        email="cw@example.cn",
    )
    request = application.order.invoice_requests.get()
    staff.post("/enrol/manage/invoices/", {"request": request.pk, "invoice_number": "26440000000099"})
    request.refresh_from_db()
    assert request.state == InvoiceState.ISSUED
    mine = web_client_for(world.admin_nanshan).get("/enrol/mine/").content.decode()
    assert application.token in mine


def test_enr_01_nobody_is_in_two_live_applications_or_applies_for_a_programme_they_are_in(setup, world):
    first = setup.apply()
    result = applications.application_from_file(
        call=setup.call,
        data=setup.form(
            [
                ["张伟", setup.ids[0], "13700137101", "主要负责人", "初始培训"],
                ["新人", new_id_number("440106"), "13700137109", "主要负责人", "初始培训"],
            ]
        ),
        unit=world.ent_futian,
        actor=None,
    )
    assert [(e.row, e.column) for e in result.errors] == [(8, "身份证号码")]
    assert first.order.number in result.errors[0].message
    # Rejected, the same file can be sent again as a new application.
    applications.application_review(application=first, approve=False, note="材料不全", actor=setup.staff)
    again = applications.application_from_file(
        call=setup.call, data=setup.form(), unit=world.ent_nanshan, actor=world.admin_nanshan
    )
    assert again.application is not None
    assert not again.again
    assert again.application != first
    # Someone already studying the programme cannot apply for it again.
    applications.application_review(application=again.application, approve=True, actor=setup.staff)
    applications.payment_received(
        order=again.application.order, method="gateway", amount=Decimal(1100), reference="D1"
    )
    applications.order_refund(order=again.application.order, note="重新报名", actor=setup.staff)
    studying = make_user(world.ent_nanshan, name="在学学员", region="440106")
    from safetrain.learning.services import enrolment_create

    enrolment_create(learner=studying, programme=setup.initial)
    result = applications.application_from_file(
        call=setup.call,
        data=setup.form([["在学学员", studying.id_number, "13700137110", "主要负责人", "初始培训"]]),
        unit=world.ent_nanshan,
        actor=world.admin_nanshan,
    )
    assert [(e.row, e.column) for e in result.errors] == [(8, "培训类别")]
    assert "已报名" in result.errors[0].message


def test_enr_02_a_refund_leaves_an_enrolment_the_application_did_not_open(setup, world):
    application = setup.apply()
    # Meanwhile a class enrolled 张伟: opening the account keeps that enrolment, and the refund leaves it alone.
    from safetrain.learning.services import enrolment_create

    zhang = make_user(world.ent_nanshan, name="张伟", id_number=setup.ids[0])
    running = enrolment_create(learner=zhang, programme=setup.initial)
    applications.application_review(application=application, approve=True, actor=setup.staff)
    applications.payment_received(
        order=application.order, method="gateway", amount=Decimal(1100), reference="K1"
    )
    applications.order_refund(order=application.order, note="单位取消", actor=setup.staff)
    running.refresh_from_db()
    assert running.status == EnrolmentStatus.ACTIVE
    liu = application.trainees.get(row=9).enrolment
    assert liu.status == EnrolmentStatus.VOID


def test_enr_02_a_payment_is_booked_even_when_the_accounts_cannot_be_opened_and_staff_open_them_later(
    setup, world
):
    application = setup.apply()
    applications.application_review(application=application, approve=True, actor=setup.staff)
    type(setup.initial).objects.filter(pk=setup.initial.pk).update(
        is_published=False
    )  # enrolment now refused
    order = applications.payment_received(
        order=application.order, method="gateway", amount=Decimal(1100), reference="F1", strict=False
    )
    assert order.state == OrderState.PAID
    assert AuditEntry.objects.filter(action="enrolment.accounts_open", result="failure").exists()
    assert application.trainees.filter(opened_at__isnull=True).count() >= 1
    type(setup.initial).objects.filter(pk=setup.initial.pk).update(is_published=True)
    staff = web_client_for(setup.staff)
    assert "尚未开通" in staff.get(f"/enrol/manage/{application.pk}/").content.decode()
    staff.post(f"/enrol/manage/{application.pk}/", {"action": "open"})
    assert application.trainees.filter(opened_at__isnull=True).count() == 0
    # A second payment of a paid order is money to give back: recorded, flagged, the order unchanged.
    applications.payment_received(
        order=application.order, method="gateway", amount=Decimal(1100), reference="F2", strict=False
    )
    assert Payment.objects.get(reference="F2").problem == "not_payable"
    with pytest.raises(DomainError, match="不需要付款"):
        applications.payment_received(
            order=application.order, method="bank_transfer", amount=Decimal(1100), reference="F3"
        )


def test_enr_02_transfers_belong_to_their_organiser(setup, world):
    other = make_org("另一培训机构", OrganisationKind.INSTITUTION, "440106")
    other_staff = make_user(other, Role.INSTITUTION_ADMIN, name="另一机构管理员", region="440106")
    EnrolmentCall.objects.create(organiser=other, title="另一期", initial_programme=setup.initial)
    application = setup.apply()
    mine = applications.bank_transfer_record(
        organiser=setup.institution,
        reference="T1",
        day=timezone.localdate(),
        amount=Decimal(1100),
        payer="南山建设公司",
        memo="张伟 刘芳",
        actor=setup.staff,
    )
    with pytest.raises(PermissionDenied):
        applications.bank_transfer_record(
            organiser=setup.institution,
            reference="T2",
            day=timezone.localdate(),
            amount=Decimal(1),
            payer="x",
            memo="",
            actor=other_staff,
        )
    # The same serial number at another organiser's bank is another transfer.
    theirs = applications.bank_transfer_record(
        organiser=other,
        reference="T1",
        day=timezone.localdate(),
        amount=Decimal(1100),
        payer="南山建设公司",
        memo="张伟 刘芳",
        actor=other_staff,
    )
    assert applications.bank_candidates(theirs) == []
    with pytest.raises(PermissionDenied):
        applications.bank_transfer_match(transfer=theirs, order=application.order, actor=setup.staff)
    page = web_client_for(other_staff).get("/enrol/manage/transfers/").content.decode()
    assert "T1" in page
    assert application.order.number not in page
    assert web_client_for(world.admin_nanshan).get("/enrol/manage/transfers/").status_code == 403
    assert (
        web_client_for(other_staff)
        .post(f"/enrol/manage/transfers/{mine.pk}/match/", {"order": application.order.pk})
        .status_code
        == 404
    )
    application.order.refresh_from_db()
    assert application.order.state == OrderState.UNPAID


def test_enr_03_the_forms_invoice_block_becomes_the_invoice_request_when_paid(setup, world):
    import io

    from openpyxl import load_workbook

    def with_invoice(taxpayer_id: str) -> bytes:
        workbook = load_workbook(io.BytesIO(setup.form(invoice_title="南山建设公司")))
        sheet = workbook.active
        sheet.append(["", "", "纳税人识别号(统一信用代码)：", taxpayer_id])
        sheet.append(["", "", "电子邮箱(用于发送电子发票)：", "cw@example.cn"])
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()

    uscc = make_uscc("440305", 901)
    bad = applications.application_from_file(
        call=setup.call,
        data=with_invoice(uscc[:-1] + ("0" if uscc[-1] != "0" else "1")),
        unit=world.ent_nanshan,
        actor=world.admin_nanshan,
    )
    assert [e.column for e in bad.errors] == ["纳税人识别号"]
    result = applications.application_from_file(
        call=setup.call, data=with_invoice(uscc), unit=world.ent_nanshan, actor=world.admin_nanshan
    )
    application = result.application
    assert (application.invoice_buyer, application.invoice_taxpayer_id, application.invoice_email) == (
        "南山建设公司",
        uscc,
        "cw@example.cn",
    )
    applications.payment_received(
        order=application.order, method="gateway", amount=Decimal(1100), reference="V1"
    )
    request = application.order.invoice_requests.get()
    assert (request.buyer_name, request.taxpayer_id, request.state) == (
        "南山建设公司",
        uscc,
        InvoiceState.REQUESTED,
    )


def test_enr_01_a_notice_leaves_the_dashboard_once_read(setup, world):
    application = setup.apply()
    applications.application_review(application=application, approve=True, actor=setup.staff)
    applications.payment_received(
        order=application.order, method="gateway", amount=Decimal(1100), reference="N1"
    )
    trainee = User.objects.get(id_index=id_index_of(setup.ids[1]))
    trainee.must_change_password = False
    trainee.save(update_fields=["must_change_password"])
    client = web_client_for(trainee)
    assert "学习账号已开通" in client.get("/").content.decode()
    notice = Notice.objects.get(user=trainee)
    client.post(f"/accounts/notices/{notice.pk}/read/")
    assert "学习账号已开通" not in client.get("/").content.decode()
    notice.refresh_from_db()
    assert notice.read_at is not None
