"""Test settings: only what tests need differs from production settings."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("SAFETRAIN_ENV_FILE", "/nonexistent")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
# Two keys, so every test runs with rotation in place: new data is encrypted with the first.
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS",
    "6oPNn1nwuQlN3jnuex50SuZcPvXSkEymXL8WzX6UfzU=,JCrUnuqE6tF9-xxzO1GqZWkiMI9d1j9a2tsYaomAbsk=",
)
os.environ.setdefault("BLIND_INDEX_KEY", "test-blind-index-key-0123456789abcdef")
# Fixed keys of the audit chains (HMAC) and of their checkpoints (an Ed25519 seed in base64).
os.environ.setdefault("AUDIT_CHAIN_KEY", "test-audit-chain-key-0123456789abcdef")
os.environ.setdefault("AUDIT_CHECKPOINT_KEY", "dGVzdC1jaGVja3BvaW50LXNlZWQtMDEyMzQ1Njc4OWE=")
os.environ.setdefault("REQUIRE_2FA_FOR_STAFF", "true")
# The test client speaks plain HTTP; the HTTPS redirect has tests of its own (core/tests/test_transport.py).
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The face check at sign-in and while studying is switched on by the tests that test it (proctoring tests), so
# that tests of other rules sign in and study without a camera.
os.environ.setdefault("FACE_CHECK_AT_LOGIN", "false")
os.environ.setdefault("FACE_CHECKS_WHILE_STUDYING", "false")
os.environ.setdefault("FACE_CHECK_AT_EXAM", "false")
# The tests' own generous limit on one verification (production's is 10 s): on a busy 2-core machine the real model
# can take many times longer, and a test must not depend on how fast the machine is today.
os.environ.setdefault("FACE_TIMEOUT_SECONDS", "120")


def _redis_database_of_this_worker() -> None:
    """Each pytest-xdist worker (gw0, gw1, …) gets a Redis database of its own: the tests clear the cache before
    each test (django-redis clears the whole database), which must not wipe what another worker's test counts."""
    from urllib.parse import urlsplit, urlunsplit

    worker, url = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("REDIS_URL", "")
    if not (url and worker.startswith("gw")):
        return
    parts = urlsplit(url)
    database = 8 + int(worker[2:])  # 8-15 (0-7 for everything else on this machine's Redis)
    if database > 15:
        raise RuntimeError("at most 8 pytest-xdist workers share one Redis (databases 8-15)")
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{database}"))


_redis_database_of_this_worker()

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# A fresh folder per test process: uploads and transcoded videos never pile up or leak between runs.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="safetrain-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
CELERY_TASK_ALWAYS_EAGER = True
