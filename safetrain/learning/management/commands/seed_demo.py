"""`manage.py seed_demo [--json]`: the whole demo (accounts, catalogue with transcoded videos, enrolments, an exam
question bank)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from safetrain.accounts.demo import seed_accounts
from safetrain.assessment.demo_bank import seed_demo_bank
from safetrain.catalog.demo import seed_catalogue
from safetrain.enterprise.demo import seed_enrolment_call, seed_enterprise
from safetrain.learning.demo import seed_enrolments
from safetrain.regulator.demo import seed_registrations


class Command(BaseCommand):
    help = "Load the demo: regions, organisations, accounts, courses with real HLS videos, programmes, enrolments."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the accounts as a JSON list")

    def handle(self, *args, **options) -> None:
        accounts = seed_accounts()
        catalogue = seed_catalogue()
        seed_enrolments(accounts, catalogue)
        # EXM-01: 120 questions for the Tianjin programme, whose preset paper draws 70 of them.
        seed_demo_bank(catalogue.programmes["tj-ce-16h"])
        seed_demo_bank(catalogue.programmes["sx-principal-refresher"])  # its offline total test (EXM-08)
        # ENT-04, ENT-05: the construction project's people, a class, training at every stage.
        seed_enterprise(accounts, catalogue)
        seed_enrolment_call(accounts, catalogue)  # ENR-01..03: the Guangzhou call with its fees
        seed_registrations(accounts)  # ORG-04: the institution registered in the Guangzhou module
        rows = accounts.accounts
        if options["json"]:
            keys = ("role", "username", "password", "organisation", "name")
            self.stdout.write(
                json.dumps([{k: a[k] for k in keys} for a in rows], ensure_ascii=False, indent=1)
            )
            return
        self.stdout.write(
            self.style.SUCCESS("Demo accounts (sign in at http://127.0.0.1:8000/accounts/login/):")
        )
        for a in rows:
            self.stdout.write(
                f"  {a['role']:<18} {a['username']}  {a['password']:<10} {a['organisation']}  {a['name']}"
            )
        self.stdout.write(
            "Learners start with the initial password (last 6 ID characters) and must change it."
        )
        self.stdout.write(
            f"Courses: {', '.join(sorted(catalogue.courses))}; programmes: "
            f"{', '.join(sorted(catalogue.programmes))}."
        )
