"""ACC-01: real-name identity — resident ID numbers (GB 11643) and the second identity type."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import make_user
from safetrain.accounts.identity import IdType, make_resident_id, mask_id_number, parse_identity
from safetrain.accounts.models import User
from safetrain.accounts.services import user_create
from safetrain.core.errors import DomainError

VALID = make_resident_id("440305", dt.date(1990, 5, 17), 123)  # 17th digit 3: male


def with_check_digit_broken(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


def test_acc_01_a_valid_number_gives_birth_date_sex_and_region():
    identity = parse_identity(IdType.RESIDENT_ID, f" {VALID.lower()} ")
    assert identity.number == VALID
    assert identity.birth_date == dt.date(1990, 5, 17)
    assert identity.sex == "M"
    assert identity.region_code == "440305"


def test_acc_01_a_lower_case_x_check_digit_is_upper_cased():
    number = next(
        n
        for n in (make_resident_id("440106", dt.date(1981, 12, 12), s) for s in range(1000))
        if n.endswith("X")
    )
    assert parse_identity(IdType.RESIDENT_ID, number.lower()).number == number


def test_acc_01_a_number_issued_after_its_district_was_created_is_accepted():
    # 宝安区 (440306) was created in 1992/93; people born before then registered there hold such numbers.
    number = make_resident_id("440306", dt.date(1975, 3, 9), 21)
    assert parse_identity(IdType.RESIDENT_ID, number).region_code == "440306"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (VALID[:-1], "应为18位，您输入的是17位"),
        (VALID + "1", "应为18位，您输入的是19位"),
        (VALID[:10] + "A" + VALID[11:], "前17位只能是数字"),
        (VALID[:-1] + "Y", "最后一位是数字或字母X"),
        (make_resident_id("440305", dt.date(1990, 5, 17), 1)[:10] + "0230" + "0010", "不是真实日期"),
        (make_resident_id("999999", dt.date(1990, 5, 17), 1), "地区码“999999”不存在"),
        (with_check_digit_broken(VALID), "校验位"),
        ("", "请填写身份证号码"),
    ],
    ids=[
        "short",
        "long",
        "letter-inside",
        "bad-last-char",
        "feb-30",
        "unknown-region",
        "check-digit",
        "empty",
    ],
)
def test_acc_01_each_kind_of_fault_gets_its_own_message_and_creates_nothing(db, value, fragment):
    before = User.objects.count()
    with pytest.raises(DomainError) as err:
        user_create(id_number=value, name="张三")
    assert err.value.code == "invalid_id_number"
    assert err.value.field == "id_number"
    assert fragment in err.value.message
    assert User.objects.count() == before


def test_acc_01_a_birth_date_in_the_future_is_refused(db):
    future = make_resident_id("440305", dt.date.today() + dt.timedelta(days=40), 5)  # noqa: DTZ011
    with pytest.raises(DomainError, match="出生日期"):
        parse_identity(IdType.RESIDENT_ID, future)


def test_acc_01_a_duplicate_id_number_is_refused_and_changes_nothing(db):
    user = make_user(name="李四")
    before = User.objects.count()
    with pytest.raises(DomainError) as err:
        user_create(id_number=user.id_number.lower(), name="李四")
    assert err.value.code == "duplicate_id_number"
    assert "已注册" in err.value.message
    assert User.objects.count() == before


@pytest.mark.parametrize(
    ("id_type", "good", "bad"),
    [
        (IdType.PASSPORT, "E12345678", "E1"),
        (IdType.HK_MACAO_PERMIT, "H12345678", "X12345678"),
        (IdType.TAIWAN_PERMIT, "12345678", "1234567A"),
    ],
)
def test_acc_01_the_second_identity_type_has_its_own_validation(db, id_type, good, bad):
    user = user_create(
        id_type=id_type, id_number=good.lower(), name="Chan Tai Man", birth_date=dt.date(1988, 1, 2)
    )
    assert user.id_type == id_type
    assert user.id_number == good
    assert user.birth_date == dt.date(1988, 1, 2)
    with pytest.raises(DomainError) as err:
        user_create(id_type=id_type, id_number=bad, name="Chan Tai Man")
    assert err.value.field == "id_number"


def test_acc_01_an_empty_name_is_refused(db):
    with pytest.raises(DomainError) as err:
        user_create(id_number=make_resident_id("440305", dt.date(1990, 1, 1), 7), name="  ")
    assert err.value.field == "name"


def test_acc_01_masking_keeps_only_the_ends_of_the_number():
    assert mask_id_number(VALID) == VALID[:4] + "*" * 10 + VALID[-4:]
