"""Sign-in and password-change timing (issue 27, ACC-03) with the production password hashers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_passwords REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/passwords.py --runs 7

Creates (and drops) the database `test_bench_passwords` on the DATABASE_URL's server, then times through the Django
test client, as a browser meets them: a sign-in, the forced change of an initial password, and a change by a user
with a full password history (the worst case: the current and the last five passwords are compared). Prints the
median and the spread of each in milliseconds, and how many password hashes each one computes.
`--hashers django-default` times Django's own default list (PBKDF2, 1,000,000 iterations) instead.
"""

from __future__ import annotations

import argparse
import os
import statistics as st
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--hashers", choices=["production", "django-default"], default="production")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the last sign-in to stderr"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import global_settings
    from django.test import Client, override_settings
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    import config.settings as production

    chosen = (
        getattr(production, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)
        if args.hashers == "production"
        else global_settings.PASSWORD_HASHERS
    )
    from django.utils.module_loading import import_string

    calls = {"n": 0, "depth": 0}
    patched = []

    def counted(function):
        # Counts the outermost encode or verify only (PBKDF2's verify encodes again).
        def wrapper(*a, **kw):
            calls["n"] += calls["depth"] == 0
            calls["depth"] += 1
            try:
                return function(*a, **kw)
            finally:
                calls["depth"] -= 1

        return wrapper

    for path in chosen:
        hasher = import_string(path)
        for method in ("encode", "verify"):
            patched.append((hasher, method, getattr(hasher, method)))
            setattr(hasher, method, counted(getattr(hasher, method)))

    setup_test_environment()
    databases = setup_databases(verbosity=0, interactive=False)
    try:
        with override_settings(PASSWORD_HASHERS=chosen, ALLOWED_HOSTS=["testserver"]):
            from conftest import PASSWORD, make_org, make_user
            from safetrain.accounts.identity import initial_password_for
            from safetrain.accounts.services import password_change
            from safetrain.orgs.models import OrganisationKind

            print(f"hasher: {chosen[0]}")  # noqa: T201
            unit = make_org("基准测试公司", OrganisationKind.ENTERPRISE, "440305")
            results: dict[str, list[float]] = {"sign-in": [], "forced change": [], "change, full history": []}
            hashes: dict[str, int] = {}
            signer = make_user(unit)
            fresh = [make_user(unit, password=None) for _ in range(args.runs)]
            seasoned = []
            for _ in range(args.runs):
                user = make_user(unit)
                for i in range(5):
                    password_change(user=user, new_password=f"Old#Pass{i}x2026")
                seasoned.append(user)

            def timed(name: str, run) -> None:
                calls["n"] = 0
                started = time.perf_counter()
                response = run()
                results[name].append((time.perf_counter() - started) * 1000)
                hashes[name] = calls["n"]
                assert response.status_code == 302, (name, response.status_code)

            for i in range(args.runs):
                timed(
                    "sign-in",
                    lambda: Client().post(
                        "/accounts/login/", {"username": signer.id_number, "password": PASSWORD}
                    ),
                )
                client = Client()
                user = fresh[i]
                client.post(
                    "/accounts/login/",
                    {"username": user.id_number, "password": initial_password_for(user.id_number)},
                )
                timed(
                    "forced change",
                    lambda client=client, user=user: client.post(
                        "/accounts/password/",
                        {
                            "old_password": initial_password_for(user.id_number),
                            "new_password1": "New#Pass2026",
                            "new_password2": "New#Pass2026",
                        },
                    ),
                )
                client = Client()
                user = seasoned[i]
                client.post("/accounts/login/", {"username": user.id_number, "password": "Old#Pass4x2026"})
                timed(
                    "change, full history",
                    lambda client=client: client.post(
                        "/accounts/password/",
                        {
                            "old_password": "Old#Pass4x2026",
                            "new_password1": "New#Pass2026",
                            "new_password2": "New#Pass2026",
                        },
                    ),
                )
            if args.profile:
                import cProfile
                import io
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                Client().post("/accounts/login/", {"username": signer.id_number, "password": PASSWORD})
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
                print(out.getvalue(), file=sys.stderr)  # noqa: T201
            for name, times in results.items():
                print(  # noqa: T201
                    f"{name:22s} median {st.median(times):7.0f} ms   min {min(times):7.0f}   "
                    f"max {max(times):7.0f}   hashes {hashes[name]}   (n={len(times)})"
                )
    finally:
        for hasher, method, function in reversed(patched):
            setattr(hasher, method, function)
        teardown_databases(databases, verbosity=0)


if __name__ == "__main__":
    main()
