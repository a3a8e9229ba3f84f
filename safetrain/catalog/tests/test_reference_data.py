"""CAT-02, CAT-03, POL: the seeded catalogue against the source lists, job types and their mapping, profiles."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from safetrain.catalog.models import (
    ConstructionCategory,
    JobCodeMapping,
    JobType,
    QualificationCategory,
    QualificationItem,
    RegionProfile,
)
from safetrain.catalog.reference import load_reference_data
from safetrain.catalog.selectors import unmapped_job_codes

SEEDS = Path(os.environ.get("SAFETRAIN_SEEDS_DIR", Path(__file__).resolve().parents[4] / "shared" / "seeds"))


def test_cat_02_every_special_operation_item_of_the_guangdong_list_is_seeded(db):
    items = QualificationItem.objects.filter(category__kind="special_operation")
    assert items.count() == 41
    assert QualificationCategory.objects.filter(kind="special_operation").count() == 8
    codes = set(items.exclude(code="").values_list("code", flat=True))
    assert {"1.1", "1.6", "2.3", "3.2", "4.2", "5.3-1", "5.3-3", "5.8", "7.1", "8.1", "8.16"} <= codes
    assert items.get(code="1.1").name == "低压电工"
    assert items.get(code="8.16").name == "化工自动化控制仪表"
    assert items.filter(name="烟花爆竹储存作业").exists()
    assert all(i.offers_initial and i.offers_review for i in items)


def test_cat_02_principal_and_safety_manager_trainings_per_industry(db):
    items = QualificationItem.objects.filter(category__kind="principal_safety_manager")
    assert items.count() == 7
    assert set(items.values_list("industry", flat=True)) == {
        "non_coal_mine",
        "fireworks",
        "hazardous_chemicals",
        "metallurgy",
    }


def test_cat_02_the_seed_matches_the_source_document_item_for_item(db):
    """Every 'N.N name' line of the checklist in the Guangdong notice is in the catalogue."""
    source = SEEDS / "004_21914b229e445a3c.txt"
    if not source.is_file():
        pytest.skip(f"source documents not found in {SEEDS} (set SAFETRAIN_SEEDS_DIR)")
    text = source.read_text(encoding="utf-8")
    table = text[text.index("内容检查表") :]
    listed = {(m[1], m[2].strip()) for m in re.finditer(r"^\s*(\d\.\d+(?:-\d)?)\s*(\S+)\s*$", table, re.M)}
    assert len(listed) == 40
    seeded = set(QualificationItem.objects.exclude(code="").values_list("code", "name"))
    assert listed <= seeded


def test_cat_01_the_four_construction_categories(db):
    assert [c for c, _ in ConstructionCategory.choices] == [
        "general",
        "job_type_cases",
        "hazardous_works",
        "self_training",
    ]


def test_cat_03_job_types_with_management_posts_and_a_mapping_table(db):
    assert JobType.objects.get(name="钢筋工").is_management is False
    assert set(JobType.objects.filter(is_management=True).values_list("name", flat=True)) >= {
        "资料员",
        "安全员",
        "项目经理",
        "监理员",
    }
    mapping = JobCodeMapping.objects.get(source="jzgr603", external_code="020")
    assert mapping.job_type.name == "钢筋工"
    assert {m.external_name for m in unmapped_job_codes()} == {"除尘工", "测量放线工"}


def test_cat_02_loading_the_reference_data_again_changes_nothing(db):
    before = (QualificationItem.objects.count(), JobType.objects.count(), JobCodeMapping.objects.count())
    load_reference_data()
    assert (
        QualificationItem.objects.count(),
        JobType.objects.count(),
        JobCodeMapping.objects.count(),
    ) == before


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "tianjin_ce",
            {
                "class_hour_minutes": 40,
                "min_study_days": 10,
                "exam_pass_mark": 60,
                "exam_attempts": 3,
                "mobile_exams_allowed": False,
                "certificate_validity_months": 12,
            },
        ),
        (
            "guangdong_online",
            {"class_hour_minutes": 45, "exam_pass_mark": 80, "keep_phones": False, "deadline_days": 30},
        ),
        (
            "shanxi",
            {
                "class_hour_minutes": 45,
                "daily_cap_class_hours": 6,
                "quiz_questions_per_class_hour": 5,
                "quiz_pass_mark": 80,
                "offline_total_test": True,
            },
        ),
        ("shenzhen_construction", {"certificate_validity_months": 3}),
    ],
)
def test_pol_region_profiles_carry_the_documents_values(db, code, expected):
    profile = RegionProfile.objects.get(code=code)
    assert {k: getattr(profile, k) for k in expected} == expected


def test_pol_shanxi_requires_a_third_offline(db):
    assert RegionProfile.objects.get(code="shanxi").offline_min_fraction == "1/3"
