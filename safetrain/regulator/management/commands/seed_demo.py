"""`manage.py seed_demo [--json]`: the whole demo (accounts, catalogue with transcoded videos, lesson quizzes,
enrolments, exam question banks, the walkable short programmes, the survey, complaints, the real-name link).

It lives in the top app so that every demo module it calls is below it."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from safetrain.accounts.demo import seed_accounts
from safetrain.assessment.demo_bank import seed_demo_bank, seed_short_exam
from safetrain.catalog.demo import OFFLINE_PROGRAMME, QUICK_PROGRAMME, seed_catalogue
from safetrain.enterprise.demo import (
    seed_enrolment_call,
    seed_enterprise,
    seed_offline_test,
    seed_realname,
)
from safetrain.learning.demo import seed_enrolments, seed_quiz_questions
from safetrain.regulator.demo import seed_complaints, seed_registrations, seed_survey


class Command(BaseCommand):
    help = "Load the demo: regions, organisations, accounts, courses with real HLS videos, programmes, enrolments."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the accounts as a JSON list")

    def handle(self, *args, **options) -> None:
        accounts = seed_accounts()
        catalogue = seed_catalogue()
        # QZ-01: the lesson quizzes before any study is seeded (a lesson counts once its quiz is passed).
        seed_quiz_questions(catalogue.courses)
        seed_enrolments(accounts, catalogue)
        # EXM-01: 120 questions for the Tianjin programme, whose preset paper draws 70 of them.
        seed_demo_bank(catalogue.programmes["tj-ce-16h"])
        seed_demo_bank(catalogue.programmes["sx-principal-refresher"])  # its offline total test (EXM-08)
        seed_short_exam(catalogue.programmes[QUICK_PROGRAMME])  # the walkable programme's mock and real exam
        # ENT-04, ENT-05: the construction project's people, a class, training at every stage.
        seed_enterprise(accounts, catalogue)
        seed_offline_test(accounts, catalogue)  # EXM-08: a learner waiting for the offline test's score
        seed_realname(accounts)  # ENT-03, INT-02: the project linked to the demo real-name system, first sync
        seed_enrolment_call(accounts, catalogue)  # ENR-01..03: the Guangzhou call with its fees
        seed_registrations(accounts)  # ORG-04: the institution registered in the Guangzhou module
        seed_survey(accounts)  # REG-04: this year's satisfaction survey, open
        seed_complaints(accounts)  # REG-05
        rows = accounts.accounts
        if options["json"]:
            keys = ("key", "role", "username", "password", "organisation", "name")
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
        quick = ", ".join(a["username"] for a in rows if a["key"].startswith("quick"))
        offline = ", ".join(a["username"] for a in rows if a["key"].startswith("offline"))
        self.stdout.write(
            f"Walk a whole programme in minutes: learners {quick} in {QUICK_PROGRAMME} (photo, study, quiz, "
            f"mock and real exam, certificate). Offline total test ({OFFLINE_PROGRAMME}): learner {offline} "
            "waits for the score the operator enters on 线下总测."
        )
        self.stdout.write(
            "Real-name sync: `make run` and `make dev` serve with REALNAME_DEMO=true, so the project "
            "南山科技园二期项目 syncs with the demo's own real-name system."
        )
