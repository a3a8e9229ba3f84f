"""Demo enrolments: the Shenzhen team workers in the construction programme with their job types, Guangzhou
learners in the principal-person programme. The project's general workers are left for a class to enrol
(enterprise.demo). Idempotent."""

from __future__ import annotations

from safetrain.accounts.demo import DemoAccounts
from safetrain.catalog.demo import DemoCatalogue
from safetrain.catalog.models import JobType
from safetrain.learning.models import Enrolment
from safetrain.learning.services import enrolment_create

# Which programme and job type each demo learner organisation gets.
PLAN = {
    "钢筋班组": ("sz-construction-worker", "GJ"),
    "木工班组": ("sz-construction-worker", "MG"),
    "广州市明达商贸有限公司": ("gz-principal-initial-32h", None),
}


def seed_enrolments(accounts: DemoAccounts, catalogue: DemoCatalogue) -> int:
    created = 0
    for account in accounts.accounts:
        if account["role"] != "learner" or account["organisation"] not in PLAN:
            continue
        programme_code, job_code = PLAN[account["organisation"]]
        learner = accounts.user(account["key"])
        programme = catalogue.programmes[programme_code]
        if Enrolment.objects.filter(learner=learner, programme=programme).exists():
            continue
        enrolment_create(
            learner=learner,
            programme=programme,
            job_type=JobType.objects.get(code=job_code) if job_code else None,
        )
        created += 1
    return created
