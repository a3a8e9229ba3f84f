"""Write a .env for the local embedded demo with freshly generated secrets (never committed).

Keeps the values of an existing .env (its keys decrypt the data already in the local database) and only adds the
secrets it lacks (the audit chain keys, required since they were introduced).
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def audit_secrets() -> list[str]:
    return [
        f"AUDIT_CHAIN_KEY={secrets.token_urlsafe(32)}",
        f"AUDIT_CHECKPOINT_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}",
    ]


def main() -> int:
    path = ROOT / ".env"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        present = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line}
        missing = [line for line in audit_secrets() if line.split("=", 1)[0] not in present]
        if missing:
            path.write_text(
                text + ("" if text.endswith("\n") else "\n") + "\n".join(missing) + "\n", encoding="utf-8"
            )
            print(f"added {', '.join(m.split('=', 1)[0] for m in missing)} to {path}")  # noqa: T201
        return 0
    path.write_text(
        "\n".join(
            [
                "# Local demo settings written by scripts/make_env.py. See .env.example for every variable.",
                f"SECRET_KEY={secrets.token_urlsafe(50)}",
                f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}",
                f"BLIND_INDEX_KEY={secrets.token_urlsafe(32)}",
                *audit_secrets(),
                "REQUIRE_2FA_FOR_STAFF=false",
                "SECURE_COOKIES=false",
                "# The demo learners have no ID photo yet: no face check at sign-in. Checks while studying stay on",
                "# (upload your own photo on 我的证件照 and use a camera), or set FACE_CHECKS_WHILE_STUDYING=false.",
                "FACE_CHECK_AT_LOGIN=false",
                "",
            ]
        ),
        encoding="utf-8",
    )
    path.chmod(0o600)
    print(f"wrote {path} with new secrets")  # noqa: T201 - a command-line script
    return 0


if __name__ == "__main__":
    sys.exit(main())
