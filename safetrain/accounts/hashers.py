"""How passwords are hashed (ACC-03): Argon2id with the parameters OWASP recommends for interactive sign-in.

Django's default, PBKDF2-SHA256 with 1,000,000 iterations, costs about 0.5 s of one core per hash on the
reference machine, and a password change computes up to eight hashes (the current password, the new one against the
current and the last five passwords, then the new hash): 5–6 s on a busy server, 3 s for some sign-ins
(bench/passwords.py). Argon2id is memory-hard, so guessing on GPUs costs far more per try than with PBKDF2 at any
iteration count; with 46 MiB, one pass and one lane (OWASP Password Storage Cheat Sheet, the first of its equivalent
Argon2id settings) a hash takes about 0.17 s. Django's own Argon2 defaults (100 MiB, two passes, eight lanes) take as
long as PBKDF2 on two cores.

Existing PBKDF2 hashes keep working and are rehashed with Argon2id at the next successful sign-in (Django's
``must_update``); password-history entries keep the hash they were stored with.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id (Django's Argon2 hasher always uses the id variant), m = 46 MiB, t = 1, p = 1."""

    # The same algorithm name as Django's: hashes stay readable by it, and a change of parameters here is noticed
    # (must_update) and applied at the next sign-in.
    algorithm = "argon2"
    time_cost = 1
    memory_cost = 47104  # KiB
    parallelism = 1
