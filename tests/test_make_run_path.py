"""The `make run` path on the embedded SQLite database: migrate + seed_demo, idempotent, serving."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.demo_server import ROOT, demo_env, manage


def test_make_run_path_seeds_every_demo_role_and_serves(demo_server):
    roles = {a["role"] for a in demo_server.accounts}
    assert roles == {"operator", "regulator", "institution_admin", "enterprise_admin", "learner"}
    learners = [a for a in demo_server.accounts if a["role"] == "learner"]
    # The units' 20, then three for the short programme and one for the offline test.
    assert len(learners) == 24
    assert [a["key"] for a in learners[-4:]] == ["quick01", "quick02", "quick03", "offline01"]
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


def test_ops_01_collectstatic_passes_on_a_checkout_with_hashed_names(tmp_path):
    env = demo_env(tmp_path, STATIC_ROOT=str(tmp_path / "static"))
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    for name in ("vendor/hls.min.js", "vendor/htmx.min.js", "vendor/echarts.min.js", "safetrain/site.css"):
        assert manifest[name] != name
        assert (tmp_path / "static" / manifest[name]).is_file()
    # hls.min.js names its source map; the manifest storage rewrites the reference to the hashed map.
    hls = (tmp_path / "static" / manifest["vendor/hls.min.js"]).read_text(errors="replace")
    assert f"sourceMappingURL={manifest['vendor/hls.min.js.map'].removeprefix('vendor/')}" in hls


def test_ops_01_make_run_serves_the_production_shape():
    """`make run` is granian on config.wsgi with DEBUG off after collectstatic; `make dev` is the debug server."""
    run = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "manage.py collectstatic --noinput" in run
    assert "DEBUG=false .venv/bin/granian --interface wsgi" in run
    assert "config.wsgi:application" in run
    assert "--respawn-failed-workers" in run
    assert "runserver" not in run
    dev = subprocess.run(["make", "-n", "dev"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "DEBUG=true" in dev
    assert "runserver" in dev


def test_ops_01_the_demo_serves_pages_and_their_static_files_with_debug_off(demo_server):
    assert demo_server.env["DEBUG"] == "false"
    with urllib.request.urlopen(f"{demo_server.url}/accounts/login/") as response:
        page = response.read().decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert assets
    assert all(re.search(r"\.[0-9a-f]{12}\.\w+$", a) for a in assets)
    for asset in assets:
        with urllib.request.urlopen(f"{demo_server.url}{asset}") as response:
            assert response.status == 200
            assert "max-age=315360000" in response.headers["Cache-Control"]  # whitenoise: immutable


def test_ops_01_no_debug_page_is_reachable_on_the_demo(demo_server):
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{demo_server.url}/no-such-page/")
    page = missing.value.read().decode()
    assert missing.value.code == 404
    assert "页面不存在" in page
    assert 'lang="zh-hans"' in page
    assert "URLconf" not in page
    assert "Using the URLconf" not in page
    assert "api/v1/" not in page
    with pytest.raises(urllib.error.HTTPError) as api_missing:
        urllib.request.urlopen(f"{demo_server.url}/api/v1/no-such-endpoint")
    assert api_missing.value.code == 404
    assert json.load(api_missing.value)["code"] == "not_found"
