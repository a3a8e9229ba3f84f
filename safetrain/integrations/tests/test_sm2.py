"""INT-01: SM2 with SM3 (GB/T 32918.2) for the exchange where configured: the standard's known answer, and the
checks around the library (a fresh secret k per signature, keys and signatures of the wrong shape refused)."""

from __future__ import annotations

import pytest

from safetrain.integrations import sm2

# GM/T 0003.5 (GB/T 32918.5) example on the recommended curve: private key, the message "message digest",
# the default signer ID, k, and the expected r||s.
D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
PUBLIC = (
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
R_S = (
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)


def test_int_01_sm2_gives_the_standards_known_answer():
    assert sm2.public_key_of(D).upper() == PUBLIC
    assert sm2.sign(D, b"message digest", k=K).hex().upper() == R_S
    assert sm2.verify(PUBLIC, b"message digest", bytes.fromhex(R_S))
    assert sm2.verify("04" + PUBLIC, b"message digest", bytes.fromhex(R_S))  # the uncompressed-point prefix


def test_int_01_sm2_signatures_use_a_fresh_k_and_wrong_ones_are_refused():
    key = sm2.generate_private_key()
    public = sm2.public_key_of(key)
    first, second = sm2.sign(key, b"body"), sm2.sign(key, b"body")
    assert first != second  # a new secret k each time
    assert sm2.verify(public, b"body", first)
    assert sm2.verify(public, b"body", second)
    assert not sm2.verify(public, b"bodY", first)
    assert not sm2.verify(PUBLIC, b"body", first)  # another key
    assert not sm2.verify(public, b"body", first[:63])
    assert not sm2.verify(public, b"body", bytes(64))  # r = s = 0
    n = sm2.N.to_bytes(32, "big")
    assert not sm2.verify(public, b"body", n + first[32:])  # r = n, out of range
    with pytest.raises(ValueError, match="public key"):
        sm2.verify("04abc", b"body", first)
    with pytest.raises(ValueError, match="private key"):
        sm2.sign("not hex", b"body")
    with pytest.raises(ValueError, match="out of range"):
        sm2.sign("0" * 64, b"body")


def test_int_01_an_sm2_key_derived_from_a_seed_is_stable_and_in_range():
    key = sm2.private_key_from_seed(b"\xff" * 48)
    assert key == sm2.private_key_from_seed(b"\xff" * 48)
    assert 1 <= int(key, 16) <= sm2.N - 2
    assert len(sm2.public_key_of(key)) == 128
