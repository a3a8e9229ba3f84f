"""SafeTrain settings: everything comes from environment variables (django-environ).

Every variable is documented in `.env.example` and the README. There are no insecure fallbacks for
secrets: `make run` writes a `.env` with freshly generated keys for the embedded demo, and production
refuses to start without SECRET_KEY, FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY, AUDIT_CHAIN_KEY and
AUDIT_CHECKPOINT_KEY (and SM4_ENCRYPTION_KEYS when DATA_CIPHER=sm4).
"""

import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env_file = env.str("SAFETRAIN_ENV_FILE", default=str(BASE_DIR / ".env"))
if Path(env_file).is_file():
    environ.Env.read_env(env_file, overwrite=False)


# Commands that only build the release from the files (static files, compiled catalogues) read no data and need no
# secrets, so an image can be built without them; every other command, and the server, refuses to start without.
SECRET_FREE_COMMANDS = {"collectstatic", "compilemessages"}
_COMMAND = (
    sys.argv[1] if Path(sys.argv[0]).name in ("manage.py", "django-admin") and len(sys.argv) > 1 else ""
)
SECRET_FREE = _COMMAND in SECRET_FREE_COMMANDS


def required(name: str) -> str:
    value = env.str(name, default="")
    if not value and SECRET_FREE:
        return f"unset-while-running-{_COMMAND}"
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Put it in the environment or in .env (see .env.example); "
            "`make run` generates one for the local demo."
        )
    return value


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = required("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Personal data encryption (ACC-08): the first key encrypts, every key decrypts, so a new key is put first
# and `manage.py rotate_encryption_keys` re-encrypts the rows; then the old key can be dropped.
FIELD_ENCRYPTION_KEYS = [k for k in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if k]
if not FIELD_ENCRYPTION_KEYS:
    FIELD_ENCRYPTION_KEYS = [required("FIELD_ENCRYPTION_KEYS")]
# The cipher of new values and files (GB/T 39786): fernet, or sm4 (SM4-GCM) with SM4_ENCRYPTION_KEYS (32 hex digits
# each; the first encrypts). Values of either cipher stay readable while their keys are listed.
DATA_CIPHER = env.str("DATA_CIPHER", default="fernet").strip().lower()
if DATA_CIPHER not in ("fernet", "sm4"):
    raise ImproperlyConfigured(f"DATA_CIPHER must be fernet or sm4, not {DATA_CIPHER!r}.")
SM4_ENCRYPTION_KEYS = [k.strip() for k in env.list("SM4_ENCRYPTION_KEYS", default=[]) if k.strip()]
if DATA_CIPHER == "sm4" and not SM4_ENCRYPTION_KEYS:
    SM4_ENCRYPTION_KEYS = [required("SM4_ENCRYPTION_KEYS")]
BLIND_INDEX_KEY = required("BLIND_INDEX_KEY")
# Audit integrity (OPS-06, GB/T 22239 level 3): the hash chains (audit trail, record seals) are keyed with
# AUDIT_CHAIN_KEY (HMAC, never stored in the database) and every AUDIT_CHECKPOINT_SECONDS their heads are signed
# with the Ed25519 key AUDIT_CHECKPOINT_KEY into checkpoints in storage. Both are required unless DEBUG (where fixed
# ones are derived from SECRET_KEY); CHAIN_HASH is the digest of new rows: sha256 or sm3 (GB/T 39786).
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="") or ("" if DEBUG else required("AUDIT_CHAIN_KEY"))
AUDIT_CHECKPOINT_KEY = env.str("AUDIT_CHECKPOINT_KEY", default="") or (
    "" if DEBUG else required("AUDIT_CHECKPOINT_KEY")
)
# Public halves (base64) of earlier checkpoint keys, so that checkpoints signed before a key change still verify.
AUDIT_CHECKPOINT_PUBLIC_KEYS = [k for k in env.list("AUDIT_CHECKPOINT_PUBLIC_KEYS", default=[]) if k]
CHAIN_HASH = env.str("CHAIN_HASH", default="sha256").lower()
if CHAIN_HASH not in ("sha256", "sm3"):
    raise ImproperlyConfigured("CHAIN_HASH must be sha256 or sm3.")

INSTALLED_APPS = [
    "safetrain.core.admin.SafeTrainAdminConfig",  # django.contrib.admin with the Chinese-named site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "captcha",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "safetrain.core",
    "safetrain.records",
    "safetrain.orgs",
    "safetrain.accounts",
    "safetrain.catalog",
    "safetrain.learning",
    "safetrain.proctoring",
    "safetrain.assessment",
    "safetrain.certification",
    "safetrain.enterprise",
    "safetrain.integrations",
    "safetrain.regulator",
]

MIDDLEWARE = [
    # Forwarded headers are dropped unless a trusted proxy sent them, before anything reads them.
    "safetrain.core.middleware.TrustedProxyMiddleware",
    "safetrain.core.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Outside the refusals below, so that they too are Chinese JSON under /api/ with the security headers.
    "safetrain.core.middleware.ApiErrorMiddleware",
    "safetrain.core.middleware.ControlCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "safetrain.core.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "safetrain.accounts.middleware.AccountPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "safetrain" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "safetrain.core.context_processors.platform",
            ],
        },
    }
]

# Database: PostgreSQL in production and CI; an embedded SQLite file when DATABASE_URL is unset.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'safetrain.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
# Persistent connections: opening a PostgreSQL connection per request costs more than a heartbeat itself.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database host that drops packets must give a quick 503, not a request hanging for minutes (OPS-01).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT_SECONDS", default=5)
    )
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # IMMEDIATE: writers take the lock at BEGIN, so concurrent requests wait instead of failing mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# The hot paths' statements (safetrain.core.hotpath.db) are prepared on each PostgreSQL connection the first time
# they run; Django's own queries bind on the client and are never prepared. PgBouncer in transaction mode follows
# prepared statements from version 1.21 (max_prepared_statements); behind an older or another transaction-pooling
# pooler set DB_PREPARED_STATEMENTS=false (psycopg's prepare_threshold None, which the hot paths read).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 1 if DB_PREPARED_STATEMENTS else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and Celery: Redis when REDIS_URL is set; otherwise local memory and eager tasks.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="safetrain"),
            # A Redis that hangs must not hold a request: sign-in falls back to the database on a failure (OPS-01).
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=1.0),
                "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT_SECONDS", default=2.0),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Asia/Shanghai"
# A transcoding may take up to this long; the broker must not hand a running task to a second worker before.
TRANSCODE_TIME_LIMIT_SECONDS = env.int("TRANSCODE_TIME_LIMIT_SECONDS", default=4 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": TRANSCODE_TIME_LIMIT_SECONDS + 3600}
CELERY_BEAT_SCHEDULE: dict = {
    # OPS-02: /metrics reports how long ago a worker ran this; a stalled queue raises an alarm.
    "core-tick": {"task": "core.tick", "schedule": 60.0},
    "accounts-housekeeping": {"task": "accounts.housekeeping", "schedule": 3600.0},
    "proctoring-housekeeping": {"task": "proctoring.housekeeping", "schedule": 3600.0},
    # POL-PHONE: phones stored before a learner came under a profile that keeps none, or come back since, go.
    "learning-phones-erase": {"task": "learning.phones_erase", "schedule": 3600.0},
    # EXM-03: papers past their deadline are submitted by the server, even when the candidate is gone.
    "assessment-finalize-due": {"task": "assessment.finalize_due_attempts", "schedule": 60.0},
    # CERT-01: certificates are issued on exam submission and score entry; this catches any that were missed.
    "certification-issue-sweep": {"task": "certification.issue_sweep", "schedule": 600.0},
    # REC-04: new study and exam records are sealed into the record chain every minute.
    "records-seal": {"task": "records.seal", "schedule": 60.0},
    # REC-02: records past their online retention move to offline archive files, once a day.
    "records-retention": {"task": "records.retention", "schedule": 86400.0},
    # OPS-06: each chain's head is signed into a checkpoint in storage, outside the database.
    "records-checkpoint": {
        "task": "records.checkpoint",
        "schedule": env.float("AUDIT_CHECKPOINT_SECONDS", default=600.0),
    },
    # REG-05: an answer left without reply for a week closes by itself.
    "regulator-close-stale-complaints": {"task": "regulator.close_stale_complaints", "schedule": 3600.0},
    # REG-01: the statistics cells touched by changes are recounted every few seconds; once a day all are rebuilt.
    "regulator-drain-statistics": {
        "task": "regulator.drain_statistics",
        "schedule": env.float("STATISTICS_DRAIN_SECONDS", default=10.0),
    },
    "regulator-rebuild-statistics": {"task": "regulator.rebuild_statistics", "schedule": 86400.0},
    # INT-01: changed records are queued every five minutes, due ones pushed every minute, revocations pulled hourly.
    "supervision-collect": {"task": "integrations.supervision_collect", "schedule": 300.0},
    "supervision-deliver": {"task": "integrations.supervision_deliver", "schedule": 60.0},
    "supervision-revocations": {"task": "integrations.supervision_revocations", "schedule": 3600.0},
    # OPS-04: a background job whose message Redis lost (a restart, a failover) is sent again; it runs once.
    "catalog-requeue-waiting": {"task": "catalog.requeue_waiting", "schedule": 600.0},
    "enterprise-requeue-waiting": {"task": "enterprise.requeue_waiting", "schedule": 600.0},
}
# A video or roster import still waiting after this long is sent to the workers again (docs/operations.md, Redis).
TASK_RESEND_AFTER_MINUTES = env.int("TASK_RESEND_AFTER_MINUTES", default=30)
# Backups run for hours: on their own queue, so that they never hold up the other tasks (a worker with `-Q backup`).
CELERY_TASK_ROUTES = {"integrations.backups_due": {"queue": "backup"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "safetrain.accounts.backends.IdentityBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Passwords (ACC-03, GB/T 22239 level 3): >= 8 characters from >= 3 of 4 classes, never the ID number,
# not one of the last few passwords.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "safetrain.accounts.validators.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "safetrain.accounts.validators.NotIdNumberValidator"},
    {"NAME": "safetrain.accounts.validators.PasswordHistoryValidator", "OPTIONS": {"remember": 5}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_MAX_AGE_DAYS = env.int("PASSWORD_MAX_AGE_DAYS", default=90)
# Argon2id with OWASP's parameters (safetrain/accounts/hashers.py, bench/passwords.py); older PBKDF2 hashes still
# verify and are rehashed at the next sign-in.
PASSWORD_HASHERS = [
    "safetrain.accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

# Sessions: idle timeout (ACC-04) = cookie age refreshed on every request.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
API_TOKEN_IDLE_MINUTES = env.int("API_TOKEN_IDLE_MINUTES", default=SESSION_IDLE_TIMEOUT_MINUTES)

# Login hardening (ACC-02, ACC-04): django-axes locks an account after 5 failures for 15 minutes;
# an image captcha (django-simple-captcha) is asked for after 3.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# Per account, not per IP: the workers of one building site often share one NAT address.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "safetrain.accounts.backends.axes_username"
AXES_CLIENT_IP_CALLABLE = "safetrain.core.http.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "safetrain.accounts.views.lockout_response"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
CAPTCHA_AFTER_FAILURES = env.int("CAPTCHA_AFTER_FAILURES", default=3)
CAPTCHA_AFTER_IP_FAILURES = env.int("CAPTCHA_AFTER_IP_FAILURES", default=10)
CAPTCHA_IMAGE_SIZE = (120, 40)
CAPTCHA_LENGTH = 4
CAPTCHA_CHALLENGE_FUNCT = "captcha.helpers.random_char_challenge"

# Two-factor sign-in (TOTP, django-otp) for operators and regulators (NAT-07).
REQUIRE_2FA_FOR_STAFF = env.bool("REQUIRE_2FA_FOR_STAFF", default=True)
OTP_TOTP_ISSUER = "SafeTrain 安训"

# Reverse proxies (IP addresses or networks, e.g. 127.0.0.1/32 for a local nginx) whose X-Forwarded-Proto, -Host and
# -For are believed; from any other address they are ignored (core.middleware.TrustedProxyMiddleware, core.http).
try:
    TRUSTED_PROXIES = [
        __import__("ipaddress").ip_network(net.strip()) for net in env.list("TRUSTED_PROXIES", default=[])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXIES: {exc} (write addresses or networks such as 10.0.0.5/32)"
    ) from exc
if env.int("TRUSTED_PROXY_COUNT", default=0) and not TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT is replaced by TRUSTED_PROXIES: list the proxies' addresses (e.g. 127.0.0.1/32), "
        "so that a client's own X-Forwarded-* headers are never believed."
    )
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# HTTPS (ACC-08, GB/T 22239 level 3): with DEBUG off every request over plain HTTP is redirected to HTTPS, except the
# health check and the metrics, which load balancers and Prometheus fetch over loopback or the internal network.
# The local demo (`make run`, plain HTTP on 127.0.0.1) sets SECURE_SSL_REDIRECT=false.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Strict-Transport-Security (sent by Django over HTTPS only): a year unless DEBUG.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A refused form (most often a page left open past the idle sign-out) gets the Chinese error page.
CSRF_FAILURE_VIEW = "safetrain.core.views.csrf_failure"

# Language and time: Chinese by default, English available (UX-02).
LANGUAGE_CODE = "zh-hans"
# The switcher in base.html shows each language in its own name (name_local), whatever the current language.
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "safetrain" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# Static and media files. Front-end packages come from npm (package.json) and are copied into
# safetrain/static/vendor by scripts/vendor_assets.py; whitenoise serves them with hashed names.
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "safetrain" / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/files/"
# Uploads anyone may see (course covers, teacher photos); every other upload is served by a view that checks access.
PUBLIC_MEDIA_PREFIXES = ["covers/", "teachers/"]
S3_BUCKET = env.str("S3_BUCKET", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("S3_URL_EXPIRE_SECONDS", default=300),
            "signature_version": "s3v4",
        },
    }

# Content-Security-Policy (django-csp): scripts only from this site's own files, never inline (every page's script
# is a static file; data for scripts is in <script type="application/json">). Styles may be inline (charts and
# htmx set them). The camera's snapshots are data:/blob: images, hls.js plays blob: media from a blob: worker.
# Object storage serves media on its own origin through signed URLs: CSP_MEDIA_ORIGINS (default: S3_ENDPOINT_URL's).
CSP_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[])
if S3_BUCKET and not CSP_MEDIA_ORIGINS:
    _endpoint = urlsplit(env.str("S3_ENDPOINT_URL", default=""))
    CSP_MEDIA_ORIGINS = [
        f"{_endpoint.scheme}://{_endpoint.netloc}" if _endpoint.netloc else "https://*.amazonaws.com"
    ]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *CSP_MEDIA_ORIGINS],
        "media-src": ["'self'", "blob:", *CSP_MEDIA_ORIGINS],
        "connect-src": ["'self'", *CSP_MEDIA_ORIGINS],
        "worker-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Uploads: videos are probed and transcoded (ffmpeg) into HLS renditions; materials are served to enrolled learners.
VIDEO_MAX_UPLOAD_MB = env.int("VIDEO_MAX_UPLOAD_MB", default=2048)
MATERIAL_MAX_UPLOAD_MB = env.int("MATERIAL_MAX_UPLOAD_MB", default=50)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads go to a temporary file, not memory
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Study-time crediting (LRN-01): the player sends a heartbeat every interval; the server credits at most the
# interval plus the tolerance, and a lesson counts as complete with at most the tolerance unwatched at its end.
HEARTBEAT_INTERVAL_SECONDS = env.int("HEARTBEAT_INTERVAL_SECONDS", default=15)
HEARTBEAT_TOLERANCE_SECONDS = env.float("HEARTBEAT_TOLERANCE_SECONDS", default=3.0)
COMPLETION_TOLERANCE_SECONDS = env.float("COMPLETION_TOLERANCE_SECONDS", default=3.0)
# Heartbeats and exam answers with their page key skip the page stack (safetrain.core.hotpath) while the browser
# session that opened the page was seen within this many seconds; the next one then takes the full path, which
# applies every account rule again and keeps the session alive (an API token is touched by the hot path itself).
# Always well inside the idle timeouts.
HEARTBEAT_ACCOUNT_CHECK_SECONDS = min(
    env.int("HEARTBEAT_ACCOUNT_CHECK_SECONDS", default=300),
    SESSION_IDLE_TIMEOUT_MINUTES * 30,
    API_TOKEN_IDLE_MINUTES * 30,
)

# A heartbeat's transaction commits without waiting for its WAL to reach the disk (PostgreSQL's per-transaction
# `synchronous_commit = off`, on both heartbeat paths; learning.heartbeats): a crash of the database server can lose the
# beats of its last moments (at most 3 x wal_writer_delay, 0.6 s by default), each whole, as if lost on the
# network; the player's next beat is credited by the same rules. Every other transaction waits as usual, exam
# answers included (an acknowledged answer is on disk, and on the synchronous standby where there is one).
HEARTBEAT_WAIT_FOR_FLUSH = env.bool("HEARTBEAT_WAIT_FOR_FLUSH", default=False)

# Face verification (FACE-05): the provider answering "is this the enrolled person?" (dotted path).
FACE_PROVIDER = env.str("FACE_PROVIDER", default="safetrain.proctoring.engine.DlibProvider")
FACE_WORKERS = env.int("FACE_WORKERS", default=1)  # verifications run at once per web process
FACE_TIMEOUT_SECONDS = env.float("FACE_TIMEOUT_SECONDS", default=10.0)
# The external face-service slot (safetrain.proctoring.remote.HttpFaceProvider): base URL and signing key pair.
FACE_SERVICE_URL = env.str("FACE_SERVICE_URL", default="")
FACE_SERVICE_APP_KEY = env.str("FACE_SERVICE_APP_KEY", default="")
FACE_SERVICE_SECRET = env.str("FACE_SERVICE_SECRET", default="")
FACE_SERVICE_TIMEOUT_SECONDS = env.float("FACE_SERVICE_TIMEOUT_SECONDS", default=8.0)
# Identity binding (实名核验): the public-security identity service that compares an uploaded reference photo with
# the ID-card photo (safetrain.proctoring.realname). Unset: every photo waits for a reviewer of the learner's unit.
IDENTITY_SERVICE_URL = env.str("IDENTITY_SERVICE_URL", default="")
IDENTITY_SERVICE_APP_KEY = env.str("IDENTITY_SERVICE_APP_KEY", default="")
IDENTITY_SERVICE_SECRET = env.str("IDENTITY_SERVICE_SECRET", default="")
IDENTITY_SERVICE_TIMEOUT_SECONDS = env.float("IDENTITY_SERVICE_TIMEOUT_SECONDS", default=8.0)
# The SMS provider slot (safetrain/accounts/sms.py): codes for resetting a forgotten password (ACC-03), and later for
# binding a phone. Unset: no SMS is sent and the reset by SMS code is not offered.
SMS_SERVICE_URL = env.str("SMS_SERVICE_URL", default="")
SMS_SERVICE_KEY_ID = env.str("SMS_SERVICE_KEY_ID", default="")
SMS_SERVICE_SECRET = env.str("SMS_SERVICE_SECRET", default="")
SMS_SERVICE_TIMEOUT_SECONDS = env.float("SMS_SERVICE_TIMEOUT_SECONDS", default=5.0)
# A code is valid for SMS_CODE_MINUTES and SMS_CODE_MAX_TRIES wrong entries; at most SMS_CODES_PER_PHONE_PER_HOUR
# codes per phone (one a minute) and SMS_CODES_PER_IP_PER_HOUR requests per address.
SMS_CODE_MINUTES = env.int("SMS_CODE_MINUTES", default=10)
SMS_CODE_MAX_TRIES = env.int("SMS_CODE_MAX_TRIES", default=5)
SMS_CODES_PER_PHONE_PER_HOUR = env.int("SMS_CODES_PER_PHONE_PER_HOUR", default=5)
SMS_CODES_PER_IP_PER_HOUR = env.int("SMS_CODES_PER_IP_PER_HOUR", default=20)
# When checks happen (FACE-01): at sign-in for learners (policy), and while studying per region profile.
FACE_CHECK_AT_LOGIN = env.bool("FACE_CHECK_AT_LOGIN", default=True)
FACE_CHECKS_WHILE_STUDYING = env.bool("FACE_CHECKS_WHILE_STUDYING", default=True)
FACE_CHECK_AT_EXAM = env.bool("FACE_CHECK_AT_EXAM", default=True)
FACE_LOGIN_MAX_FAILURES = env.int("FACE_LOGIN_MAX_FAILURES", default=3)
# Liveness challenges the server picks from (FACE-02); a challenge must be answered within FACE_CHALLENGE_TTL.
FACE_CHALLENGES = env.list("FACE_CHALLENGES", default=["blink", "turn"])
FACE_CHALLENGE_TTL_SECONDS = env.int("FACE_CHALLENGE_TTL_SECONDS", default=120)

# PDF documents (exam papers, certificates, records): fpdf2 embeds a subset of this CJK font (Debian's
# fonts-noto-cjk; an OpenType collection, PDF_FONT_INDEX picks the Simplified Chinese face).
PDF_FONT_PATH = env.str("PDF_FONT_PATH", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
PDF_FONT_BOLD_PATH = env.str(
    "PDF_FONT_BOLD_PATH", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
)
PDF_FONT_INDEX = env.int("PDF_FONT_INDEX", default=2)
PLATFORM_NAME = env.str("PLATFORM_NAME", default="安训安全生产网络培训平台")

# Certificates (CERT-04): QR codes carry the verification URL on PUBLIC_BASE_URL and a payload signed with the
# platform's Ed25519 key: CERT_SIGNING_KEY is its 32-byte seed in base64 (or a PEM private key); unset, a key is
# derived from SECRET_KEY (set it in production so a new SECRET_KEY keeps old certificates verifiable).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
CERT_SIGNING_KEY = env.str("CERT_SIGNING_KEY", default="")
VERIFY_RATE_PER_MINUTE = env.int("VERIFY_RATE_PER_MINUTE", default=30)  # public look-ups per address

# Retention (REC-02): study records stay online at least RECORD_ONLINE_MONTHS, then move to offline archive files
# kept at least RECORD_ARCHIVE_MONTHS. Operation logs (REC-03, >= 6 months) are never removed: the chain keeps them.
RECORD_ONLINE_MONTHS = env.int("RECORD_ONLINE_MONTHS", default=24)
RECORD_ARCHIVE_MONTHS = env.int("RECORD_ARCHIVE_MONTHS", default=72)
if RECORD_ONLINE_MONTHS < 24 or RECORD_ARCHIVE_MONTHS < 72:
    raise ImproperlyConfigured(
        "Retention below GD-C 8: records stay 24 months online and 72 months archived."
    )

# Customer service contacts shown on every page (UX-04).
CUSTOMER_SERVICE_PHONE = env.str("CUSTOMER_SERVICE_PHONE", default="400-800-1234")
CUSTOMER_SERVICE_HOURS = env.str("CUSTOMER_SERVICE_HOURS", default="周一至周日 08:30-21:00")
CUSTOMER_SERVICE_EMAIL = env.str("CUSTOMER_SERVICE_EMAIL", default="kefu@safetrain.example.cn")

# Policy (POL-PHONE): keep learners' phone numbers or not (GD#14 asks not to).
POLICY_KEEP_PHONES = env.bool("POLICY_KEEP_PHONES", default=True)

# Monitoring (OPS-01, OPS-02): /metrics for Prometheus, with a bearer token, or without one from these networks
# only (never through the proxy). The design load is this node's measured capacity in requests per second
# (bench/README.md, "Design load"); the load is the request rate over LOAD_WINDOW_SECONDS as a fraction of it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_NETWORKS = [
        __import__("ipaddress").ip_network(net)
        for net in env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(
        f"METRICS_ALLOWED_NETWORKS: {exc} (write networks such as 10.0.0.0/8)"
    ) from exc
NODE_NAME = env.str("NODE_NAME", default="") or __import__("socket").gethostname()
DESIGN_LOAD_RPS = env.float("DESIGN_LOAD_RPS", default=1600.0)
LOAD_WINDOW_SECONDS = env.float("LOAD_WINDOW_SECONDS", default=60.0)
# "backup": the queue of the backups (OPS-03), which run for hours on a worker of their own.
CELERY_QUEUES_WATCHED = env.list("CELERY_QUEUES_WATCHED", default=["celery", "backup"])
DATABASE_STANDBYS_EXPECTED = env.int("DATABASE_STANDBYS_EXPECTED", default=0)
# Alertmanager posts its alerts to /ops/alerts/webhook with this bearer token; unset, the webhook is closed.
ALERT_WEBHOOK_TOKEN = env.str("ALERT_WEBHOOK_TOKEN", default="")
if DESIGN_LOAD_RPS <= 0:
    raise ImproperlyConfigured("DESIGN_LOAD_RPS must be a positive number of requests per second.")

# Backups (OPS-03; Guangdong: incremental every 24 h, off-site every 7 days, full every 30 days). The platform runs
# them from Celery (integrations.backups_due), records every run and raises alarms; the tools are configured in
# deploy/. pgBackRest's command prefix, split like a shell would; the platform appends `--repo=N --type=full|diff|incr
# backup` and `--output=json info`. Empty: the database is not backed up from this installation.
BACKUP_PGBACKREST_COMMAND = env.str("BACKUP_PGBACKREST_COMMAND", default="")
# restic's command prefix for the media files (uploads, videos); the platform appends `backup --json --tag
# safetrain-media PATHS`, then `forget ... --prune`. Empty: media files are not backed up from this installation
# (with S3_BUCKET the files are in the object store, whose own replication keeps them).
BACKUP_RESTIC_COMMAND = env.str("BACKUP_RESTIC_COMMAND", default="")
BACKUP_MEDIA_PATHS = env.list("BACKUP_MEDIA_PATHS", default=[str(MEDIA_ROOT)])
# restic's off-site repository (the off-site copy every 7 days, for the media too): its command prefix; the platform
# appends `copy --from-repo ... --from-password-file ...` (the repository and password file of
# BACKUP_RESTIC_COMMAND), then the same `forget ... --prune`. Empty: no off-site copy of the media from here.
BACKUP_RESTIC_OFFSITE_COMMAND = env.str("BACKUP_RESTIC_OFFSITE_COMMAND", default="")
BACKUP_MEDIA_OFFSITE_DAYS = env.float("BACKUP_MEDIA_OFFSITE_DAYS", default=7.0)
# restic keeps this many daily, weekly and monthly snapshots; 72 months is the longest record rule (REC-02).
BACKUP_RESTIC_KEEP_DAILY = env.int("BACKUP_RESTIC_KEEP_DAILY", default=35)
BACKUP_RESTIC_KEEP_WEEKLY = env.int("BACKUP_RESTIC_KEEP_WEEKLY", default=10)
BACKUP_RESTIC_KEEP_MONTHLY = env.int("BACKUP_RESTIC_KEEP_MONTHLY", default=72)
# The schedule. pgBackRest repository 1 (on site): an incremental backup every N hours, a full one every N days.
BACKUP_DATABASE_INCR_HOURS = env.float("BACKUP_DATABASE_INCR_HOURS", default=24.0)
BACKUP_DATABASE_FULL_DAYS = env.float("BACKUP_DATABASE_FULL_DAYS", default=30.0)
# pgBackRest repository 2 (off site): a differential backup every N days, a full one every N days; 0 switches
# the off-site repository off.
BACKUP_OFFSITE_DIFF_DAYS = env.float("BACKUP_OFFSITE_DIFF_DAYS", default=7.0)
BACKUP_OFFSITE_FULL_DAYS = env.float("BACKUP_OFFSITE_FULL_DAYS", default=30.0)
# restic: a snapshot of the media files every N hours.
BACKUP_MEDIA_HOURS = env.float("BACKUP_MEDIA_HOURS", default=24.0)
# A backup due longer than this is missed (alarm BackupMissed); after a failure the next try waits this long.
BACKUP_GRACE_HOURS = env.float("BACKUP_GRACE_HOURS", default=2.0)
BACKUP_RETRY_MINUTES = env.float("BACKUP_RETRY_MINUTES", default=60.0)
# One backup command may run this long before it is stopped and recorded as failed.
BACKUP_TIMEOUT_SECONDS = env.int("BACKUP_TIMEOUT_SECONDS", default=6 * 3600)
if (
    min(
        BACKUP_DATABASE_INCR_HOURS,
        BACKUP_DATABASE_FULL_DAYS,
        BACKUP_OFFSITE_FULL_DAYS,
        BACKUP_MEDIA_HOURS,
        BACKUP_MEDIA_OFFSITE_DAYS,
    )
    <= 0
    or min(BACKUP_OFFSITE_DIFF_DAYS, BACKUP_GRACE_HOURS, BACKUP_RETRY_MINUTES, BACKUP_TIMEOUT_SECONDS - 1) < 0
):
    raise ImproperlyConfigured(
        "The BACKUP_* periods and BACKUP_TIMEOUT_SECONDS must be positive; BACKUP_OFFSITE_DIFF_DAYS (0: off), "
        "BACKUP_GRACE_HOURS and BACKUP_RETRY_MINUTES may be 0."
    )
if BACKUP_PGBACKREST_COMMAND or BACKUP_RESTIC_COMMAND:
    # Every 15 minutes the worker on the "backup" queue runs whatever is due; a tick not taken up within the period
    # is dropped, so that ticks do not pile up behind a backup of several hours.
    CELERY_BEAT_SCHEDULE["backups-due"] = {
        "task": "integrations.backups_due",
        "schedule": 900.0,
        "options": {"expires": 840},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# django-axes keeps request data of failed logins: mask everything personal.
AXES_SENSITIVE_PARAMETERS = [
    "next",
    "username",
    "ip_address",
    "id_number",
    "phone",
    "old_password",
    "new_password1",
    "new_password2",
    "otp_token",
]

# The construction real-name system (两制平台, ENT-03/INT-02): base URL of its API, the platform's key, time limit.
REALNAME_BASE_URL = env.str("REALNAME_BASE_URL", default="")
REALNAME_API_KEY = env.str("REALNAME_API_KEY", default="")
REALNAME_TIMEOUT_SECONDS = env.float("REALNAME_TIMEOUT_SECONDS", default=10.0)
# The job codes of that system are mapped to job types under this source name (CAT-03's mapping table).
REALNAME_JOB_CODE_SOURCE = env.str("REALNAME_JOB_CODE_SOURCE", default="jzgr603")  # 建办市函〔2018〕603号
# The demo (`make run`): syncs ask the demo's own real-name system in process (enterprise.demo), not REALNAME_BASE_URL.
REALNAME_DEMO = env.bool("REALNAME_DEMO", default=False)

# The payment gateway for scan-to-pay (ENR-02): base URL, merchant id, the secret that signs every message, time
# limit. Unset: the application page offers bank transfer only.
PAYMENT_GATEWAY_URL = env.str("PAYMENT_GATEWAY_URL", default="")
PAYMENT_MERCHANT_ID = env.str("PAYMENT_MERCHANT_ID", default="")
PAYMENT_SECRET = env.str("PAYMENT_SECRET", default="")
PAYMENT_TIMEOUT_SECONDS = env.float("PAYMENT_TIMEOUT_SECONDS", default=10.0)
# The gateway's notifications go to {PUBLIC_BASE_URL}/enrol/payments/notify/.

# Uploaded workbooks (rosters, enrolment forms, question banks) are read by core.safeimport in a child process with
# these limits; a file beyond any of them is refused with a message saying which and what to do. Ratio: the most a
# part (of 1 MB or more once unpacked) may unpack to, as a multiple of its packed size.
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=10)
IMPORT_MAX_UNPACKED_MB = env.int("IMPORT_MAX_UNPACKED_MB", default=100)
IMPORT_MAX_RATIO = env.int("IMPORT_MAX_RATIO", default=100)
IMPORT_MAX_PARTS = env.int("IMPORT_MAX_PARTS", default=1000)
IMPORT_MAX_SHEETS = env.int("IMPORT_MAX_SHEETS", default=20)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=10000)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=200)  # columns further right are not read
IMPORT_MEMORY_MB = env.int("IMPORT_MEMORY_MB", default=512)  # the reader's address space
IMPORT_CPU_SECONDS = env.int("IMPORT_CPU_SECONDS", default=20)

# A roster opening more new accounts than this is imported in the background (ENT-02).
ROSTER_INLINE_NEW_ACCOUNTS = env.int("ROSTER_INLINE_NEW_ACCOUNTS", default=20)
# A real-name sync runs in the background; a second one for the same project waits until it ends (or this long).
REALNAME_SYNC_LOCK_SECONDS = env.int("REALNAME_SYNC_LOCK_SECONDS", default=900)

# The provincial supervision platform (INT-01): where records are pushed and revocations pulled, this platform's
# code there, the province's Ed25519 public key (PEM) that signs the revocation lists, time limit. Unset URL: no
# exchange.
SUPERVISION_URL = env.str("SUPERVISION_URL", default="")
SUPERVISION_PLATFORM_CODE = env.str("SUPERVISION_PLATFORM_CODE", default="safetrain")
SUPERVISION_PUBLIC_KEY = env.str("SUPERVISION_PUBLIC_KEY", default="")
# This platform's own exchange key (Ed25519 seed in base64 or PEM), separate from the certificates' key; unset, one
# is derived from SECRET_KEY. `manage.py supervision_key` prints the public half to register with the province.
SUPERVISION_SIGNING_KEY = env.str("SUPERVISION_SIGNING_KEY", default="")
# The exchange's signature algorithm: ed25519, or sm2 (SM2 with SM3, GB/T 32918) where the province asks for it; with
# sm2, SUPERVISION_SIGNING_KEY is 64 hex digits and SUPERVISION_PUBLIC_KEY the province's x||y in hex.
SUPERVISION_SIGNATURE = env.str("SUPERVISION_SIGNATURE", default="ed25519").lower()
# A signed revocation list older than this (its generated_at) is refused as a replay.
SUPERVISION_MAX_AGE_SECONDS = env.int("SUPERVISION_MAX_AGE_SECONDS", default=600)
SUPERVISION_TIMEOUT_SECONDS = env.float("SUPERVISION_TIMEOUT_SECONDS", default=15.0)
