"""Identity documents (ACC-01): the resident ID number (居民身份证号码, GB 11643) and the second identity type
(passport, Mainland travel permits for Hong Kong/Macao and Taiwan residents).

The resident ID number is checked with python-stdnum's `stdnum.cn.ric` pieces, one fault at a time, so the
message names exactly what is wrong: length, characters, birth date, region code, check digit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from safetrain.core.errors import DomainError


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident ID card")
    PASSPORT = "passport", _("Passport")
    HK_MACAO_PERMIT = "hk_macao_permit", _("Mainland travel permit for Hong Kong and Macao residents")
    TAIWAN_PERMIT = "taiwan_permit", _("Mainland travel permit for Taiwan residents")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


@dataclass(frozen=True)
class Identity:
    id_type: str
    number: str
    birth_date: dt.date | None = None
    sex: str = ""
    region_code: str = ""


def _fault(message: str) -> DomainError:
    return DomainError("invalid_id_number", message, field="id_number")


def region_code_known(code: str) -> bool:
    """Whether a 6-digit code is (or was) an administrative division, in python-stdnum's GB/T 2260 history.

    stdnum's own `get_birth_place` also demands that the county existed in the birth year; that rejects real
    numbers issued after a district was created (a worker born in 1975 and registered in 宝安区, created 1993),
    so only the existence of the code is checked here.
    """
    from stdnum import numdb

    parts = numdb.get("cn/loc").info(code)
    return len(parts) == 2 and bool(parts[0][1]) and bool(parts[1][1])


def parse_resident_id(value: str, *, today: dt.date | None = None) -> Identity:
    number = ric.compact(value or "")
    if not number:
        raise _fault(gettext("Please enter the ID number."))
    if len(number) != 18:
        raise _fault(
            gettext(
                "The ID number must have 18 characters; you entered %(n)d. Please check it and try again."
            )
            % {"n": len(number)}
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise _fault(
            gettext(
                "The first 17 characters of the ID number must be digits and the last one a digit or the "
                "letter X. Please check it and try again."
            )
        )
    try:
        birth = ric.get_birth_date(number)
    except InvalidComponent:
        raise _fault(
            gettext(
                "The date of birth “%(date)s” in the ID number (characters 7 to 14) is not a real date. "
                "Please check it and try again."
            )
            % {"date": number[6:14]}
        ) from None
    today = today or dt.date.today()  # noqa: DTZ011 - a calendar date, compared with a birth date
    if birth > today or birth.year < 1900:
        raise _fault(
            gettext(
                "The date of birth “%(date)s” in the ID number is not plausible. Please check it and try again."
            )
            % {"date": number[6:14]}
        )
    if not region_code_known(number[:6]):
        raise _fault(
            gettext(
                "The region code “%(code)s” (the first 6 digits of the ID number) does not exist. "
                "Please check it and try again."
            )
            % {"code": number[:6]}
        )
    if ric.calc_check_digit(number) != number[17]:
        raise _fault(
            gettext(
                "The check digit (the last character) of the ID number is wrong; a digit may have been "
                "mistyped. Please check the number digit by digit and try again."
            )
        )
    sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
    return Identity(IdType.RESIDENT_ID, number, birth, sex, number[:6])


_OTHER_PATTERNS = {
    IdType.PASSPORT: (
        re.compile(r"^[A-Z0-9]{5,17}$"),
        _("A passport number has 5 to 17 letters or digits. Please copy it from the passport's data page."),
    ),
    IdType.HK_MACAO_PERMIT: (
        re.compile(r"^[HM]\d{8}(\d{2})?$"),
        _(
            "A Mainland travel permit number for Hong Kong and Macao residents is H or M followed by 8 "
            "(or 10) digits. Please copy it from the permit."
        ),
    ),
    IdType.TAIWAN_PERMIT: (
        re.compile(r"^\d{8}(\d{2})?$"),
        _(
            "A Mainland travel permit number for Taiwan residents has 8 (or 10) digits. "
            "Please copy it from the permit."
        ),
    ),
}


def parse_identity(id_type: str, value: str, *, birth_date: dt.date | None = None, sex: str = "") -> Identity:
    """Validate and normalise an identity document; derive birth date, sex and region where the number holds them."""
    if id_type == IdType.RESIDENT_ID:
        return parse_resident_id(value)
    if id_type not in _OTHER_PATTERNS:
        raise DomainError(
            "invalid_id_type",
            gettext(
                "Invalid identity document type. Please choose resident ID card, passport or a Hong Kong, "
                "Macao or Taiwan travel permit."
            ),
            field="id_type",
        )
    number = re.sub(r"[\s-]", "", value or "").upper()
    pattern, message = _OTHER_PATTERNS[IdType(id_type)]
    if not number:
        raise _fault(gettext("Please enter the document number."))
    if not pattern.match(number):
        raise _fault(str(message))
    return Identity(id_type, number, birth_date, sex if sex in Sex.values else "", "")


def initial_password_for(number: str) -> str:
    """Initial password of bulk-created accounts: the last 6 characters of the ID number, X upper-cased (ACC-03)."""
    return number.upper()[-6:]


def mask_id_number(number: str) -> str:
    if len(number) <= 8:
        return number[:2] + "*" * max(len(number) - 3, 1) + number[-1:]
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    if not name:
        return ""
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def make_resident_id(region_code: str, birth: dt.date, sequence: int) -> str:
    """Build a valid resident ID number (for demo data and tests): region, birth date, 3-digit sequence, check."""
    body = f"{region_code}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
