"""SM2 signatures with SM3 (GB/T 32918.2, GM/T 0003; the "SM3withSM2" of the Chinese public-key standards) for the
supervision exchange where the province asks for them (INT-01).

The arithmetic is the `gmssl` package's (pure Python); around it, what that package leaves to its caller: the
per-signature secret k comes from `secrets` (its own helper uses `random`, which would leak the private key), the
public key is set as 64 bytes x||y (its constructor mangles some keys that start with 04), and a signature's r and s
are checked to be in [1, n-1] before verifying. The signer's ID is the standard default 1234567812345678.

Keys: a private key is 32 bytes (64 hex digits); a public key 64 bytes x||y (128 hex digits, or 130 with the 04
prefix of the uncompressed point). A signature is r||s, 64 bytes.
"""

from __future__ import annotations

import secrets

from gmssl import sm2 as _gmssl

N = int(_gmssl.default_ecc_table["n"], 16)


def _public_hex(public_key: str) -> str:
    key = public_key.strip().lower()
    if len(key) == 130 and key.startswith("04"):
        key = key[2:]
    if len(key) != 128 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("an SM2 public key is 64 bytes x||y in hex (128 digits, or 130 starting with 04)")
    return key


def _private_int(private_key: str) -> int:
    try:
        d = int(private_key.strip(), 16)
    except ValueError as error:
        raise ValueError("an SM2 private key is 32 bytes in hex (64 digits)") from error
    if not 1 <= d <= N - 2:
        raise ValueError("the SM2 private key is out of range")
    return d


def _crypt(private_key: str, public_key: str) -> _gmssl.CryptSM2:
    crypt = _gmssl.CryptSM2(private_key=private_key, public_key="00" * 64)
    crypt.public_key = public_key  # set here: the constructor's lstrip("04") mangles some keys
    return crypt


def private_key_from_seed(seed: bytes) -> str:
    """A private key from 32 or more random bytes (for a key derived from SECRET_KEY)."""
    return "%064x" % (int.from_bytes(seed, "big") % (N - 2) + 1)


def generate_private_key() -> str:
    return "%064x" % (secrets.randbelow(N - 2) + 1)


def public_key_of(private_key: str) -> str:
    d = _private_int(private_key)
    return _crypt(private_key, "00" * 64)._kg(d, _gmssl.default_ecc_table["g"])


def sign(private_key: str, data: bytes, *, public_key: str | None = None, k: int | None = None) -> bytes:
    """r||s of SM3withSM2 over `data`. `k` only for the standard's known-answer test."""
    _private_int(private_key)
    public = _public_hex(public_key) if public_key else public_key_of(private_key)
    crypt = _crypt(private_key, public)
    while True:
        nonce = k if k is not None else secrets.randbelow(N - 1) + 1
        signature = crypt.sign_with_sm3(data, f"{nonce:064x}")
        if signature:  # None for the (negligible) r = 0 or r + k = n cases: draw again
            return bytes.fromhex(signature)
        if k is not None:
            raise ValueError("this k gives no signature")


def verify(public_key: str, data: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    return bool(_crypt("1", _public_hex(public_key)).verify_with_sm3(signature.hex(), data))
