"""The `make run` path on the embedded SQLite database: migrate + seed_demo, idempotent, serving."""

from __future__ import annotations

import json
import urllib.request

from tests.demo_server import manage


def test_make_run_path_seeds_every_demo_role_and_serves(demo_server):
    roles = {a["role"] for a in demo_server.accounts}
    assert roles == {"operator", "regulator", "institution_admin", "enterprise_admin", "learner"}
    learners = [a for a in demo_server.accounts if a["role"] == "learner"]
    assert len(learners) == 20
    assert all(a["password"] == a["username"][-6:] for a in learners)  # initial passwords
    regulators = {a["organisation"] for a in demo_server.accounts if a["role"] == "regulator"}
    assert {"深圳市应急管理局", "广州市应急管理局", "天津市应急管理局", "太原市应急管理局"} <= regulators
    with urllib.request.urlopen(f"{demo_server.url}/healthz") as response:
        assert json.load(response)["status"] == "ok"
    with urllib.request.urlopen(f"{demo_server.url}/accounts/login/") as response:
        page = response.read().decode()
    assert 'lang="zh-hans"' in page


def test_make_run_path_seed_demo_is_idempotent(demo_server):
    again = json.loads(manage(demo_server.env, "seed_demo", "--json"))
    assert again == demo_server.accounts
    out = manage(
        demo_server.env,
        "shell",
        "-c",
        "from safetrain.accounts.models import User; print(User.objects.count())",
    )
    assert out.strip().splitlines()[-1] == str(len(demo_server.accounts))
    assert "audit chain OK" in manage(demo_server.env, "verify_audit_chain")
