"""Reference data of the catalogue (CAT-02, CAT-03, POL): qualification catalogue, job types and job-code
mappings, region profiles. Loaded by migration 0002 and `manage.py load_catalogue`; idempotent (existing rows are
updated to the file, nothing is deleted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "catalogue.json"


def load_reference_data(apps: Any = None) -> dict[str, int]:
    """`apps`: a migration's app registry, or None for the live models."""
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Category = apps.get_model("catalog", "QualificationCategory")
    Item = apps.get_model("catalog", "QualificationItem")
    JobType = apps.get_model("catalog", "JobType")
    Mapping = apps.get_model("catalog", "JobCodeMapping")
    Profile = apps.get_model("catalog", "RegionProfile")
    data = json.loads(DATA.read_text(encoding="utf-8"))
    counts = {"categories": 0, "items": 0, "job_types": 0, "mappings": 0, "profiles": 0}
    for order, group in enumerate(data["qualifications"], start=1):
        category, _ = Category.objects.update_or_create(
            kind=group["kind"], name=group["name"], defaults={"code": group["code"], "order": order}
        )
        counts["categories"] += 1
        for item_order, (code, name) in enumerate(group["items"], start=1):
            Item.objects.update_or_create(
                category=category,
                name=name,
                defaults={"code": code, "order": item_order, "industry": group.get("industry", "")},
            )
            counts["items"] += 1
    job_types = {}
    for order, (code, name, management) in enumerate(data["job_types"], start=1):
        job_types[code], _ = JobType.objects.update_or_create(
            code=code, defaults={"name": name, "is_management": management, "order": order}
        )
        counts["job_types"] += 1
    source = data["job_code_mappings"]["source"]
    for external_code, external_name, ours in data["job_code_mappings"]["rows"]:
        mapping, created = Mapping.objects.get_or_create(
            source=source,
            external_code=external_code,
            defaults={"external_name": external_name, "job_type": job_types.get(ours) if ours else None},
        )
        counts["mappings"] += int(created)
    # A migration's historical model may not have every field the file names yet: set those it has.
    profile_fields = {f.name for f in Profile._meta.get_fields()}
    for row in data["region_profiles"]:
        values = {k: v for k, v in row.items() if k != "code" and k in profile_fields}
        Profile.objects.update_or_create(code=row["code"], defaults=values)
        counts["profiles"] += 1
    return counts
