#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/ (committed; rerun after
changing a seed here). Seeds are small, meaningful inputs: the contract's
example messages, valid and invalid triggers and batches, real JWTs signed
with the fuzz target's fixed test secret and the test EC key, `alg: none`
and algorithm-confusion tokens. File names say what each seed is.

Needs only Python's standard library and the `openssl` command (for the
ES256 seed)."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
# Must match SECRET in fuzz_targets/credential.rs.
SECRET = b"alerthub-fuzz-secret-0123456789abcdef"
FUTURE = 4102444800  # 2100-01-01
PAST = 1000


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def j(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------ client_message
messages = {
    "ping_number": '{"type":"ping","timestamp":1234567890}',
    "ping_object": '{"type":"ping","timestamp":{"a":[1,2.5,"x",null,true]}}',
    "ping_float": '{"type":"ping","timestamp":0.1e-7}',
    "ping_without_timestamp": '{"type":"ping"}',
    "get_unread_count": '{"type":"get_unread_count"}',
    "subscribe_to_updates": '{"type":"subscribe_to_updates"}',
    "mark_read": '{"type":"mark_read","alert_id":123,"extra":true}',
    "mark_read_string_id": '{"type":"mark_read","alert_id":"5"}',
    "mark_read_float_id": '{"type":"mark_read","alert_id":1.5}',
    "mark_read_huge_id": '{"type":"mark_read","alert_id":18446744073709551615}',
    "mark_all_read": '{"type":"mark_all_read"}',
    "unknown_type": '{"type":"dance"}',
    "unknown_long_type": j({"type": "\u00e9" * 100}),
    "type_not_string": '{"type":7}',
    "no_type": '{"no_type":1}',
    "array": "[1,2]",
    "truncated": '{"type":"ping"',
    "escaped_type": '{"type":"p\\u0069ng","timestamp":"\\ud83d\\ude00"}',
    "lone_surrogate": '{"type":"\\ud800"}',
    "duplicate_type": '{"type":"ping","type":"mark_all_read"}',
    "nested": "[" * 127 + "]" * 127,
}
for name, text in messages.items():
    write("client_message", name, text)

# -------------------------------------------------------------- trigger_body
full = {
    "user_id": "1",
    "breach_id": "BREACH_001",
    "title": "Data Breach Detected",
    "severity": "HIGH",
    "confidence": 0.95,
    "detected_at": "2025-11-25T12:00:00Z",
    "description": "optional",
    "source": "optional",
}
minimal = {"user_id": "1", "breach_id": "B", "title": "T", "severity": "low", "confidence": 0}
triggers = {
    "full": full,
    "minimal": minimal,
    "numeric_user": dict(minimal, user_id=42),
    "nulls": dict(minimal, description=None, source=None, detected_at=None),
    "offset_and_nanos": dict(minimal, detected_at="2025-11-25T13:00:00.123456789+01:00"),
    "edge_of_time": dict(minimal, detected_at="9999-12-31T23:59:59-23:59"),
    "start_of_time": dict(minimal, detected_at="0000-01-01T00:00:00+23:59"),
    "title_200_chars": dict(minimal, title="\u00e9" * 200),
    "title_201_chars": dict(minimal, title="\u00e9" * 201),
    "nul_in_fields": dict(minimal, title="a\u0000b", description="\u0000", source="s\u0000"),
    "every_field_bad": {"user_id": "a-b", "title": "", "severity": "x", "confidence": 2, "extra": 1,
                        "source": "s" * 65},
    "confidence_as_string": dict(minimal, confidence="0.5"),
    "negative_zero": dict(minimal, confidence=-0.0),
    "not_an_object": [1],
}
for name, body in triggers.items():
    write("trigger_body", name, j(body))
write("trigger_body", "big_exponent", '{"user_id":1e400,"breach_id":"B","title":"T","severity":"low","confidence":1e-400}')
batches = {
    "batch_valid": {"alerts": [full, dict(minimal, breach_id="B2")]},
    "batch_bad_items": {"alerts": [minimal, {"title": ""}, minimal, 7]},
    "batch_extra_field": {"alerts": [minimal], "extra": 1},
    "batch_empty": {"alerts": []},
    "batch_not_array": {"alerts": {"0": minimal}},
    "batch_of_arrays": {"alerts": [[minimal]]},
}
for name, body in batches.items():
    write("trigger_body", name, j(body))

# ---------------------------------------------------------------- credential
def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header, claims, key=SECRET):
    signing_input = b64(j(header).encode()) + "." + b64(j(claims).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


def es256(header, claims):
    signing_input = b64(j(header).encode()) + "." + b64(j(claims).encode())
    der = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", os.path.join(FIXTURES, "ec_private.pem")],
        input=signing_input.encode(), capture_output=True, check=True).stdout
    # DER SEQUENCE { INTEGER r, INTEGER s } -> r || s, 32 bytes each.
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\x00").rjust(32, b"\x00")
        i += 2 + n
    return signing_input + "." + b64(out)


# Must match TOKEN_KEY in fuzz_targets/credential.rs: bytes 0x00..=0x1f.
TOKEN_KEY = bytes(range(32))


def issued(random_hex):
    """An opaque token as alerthub mints it: ahk_<random>_<HMAC tag>."""
    body = "ahk_" + random_hex
    return body + "_" + hmac.new(TOKEN_KEY, body.encode(), hashlib.sha256).hexdigest()


HS = {"alg": "HS256", "typ": "JWT"}
ES = {"alg": "ES256", "typ": "JWT"}
access = {"token_type": "access", "exp": FUTURE, "iat": 1700000000, "jti": "abc", "user_id": 42}
raw = {
    "jwt_valid_hs256": hs256(HS, access),
    "jwt_valid_bearer": "Bearer " + hs256(HS, dict(access, user_id="alice")),
    "jwt_valid_es256": "Bearer " + es256(ES, dict(access, user_id="u_1")),
    "jwt_refresh": hs256(HS, dict(access, token_type="refresh")),
    "jwt_expired": hs256(HS, dict(access, exp=PAST)),
    "jwt_no_exp": hs256(HS, {"user_id": "1"}),
    "jwt_not_yet_valid": hs256(HS, dict(access, nbf=FUTURE - 1)),
    "jwt_wrong_secret": hs256(HS, access, key=b"another secret"),
    "jwt_hs512": "Bearer " + b64(j({"alg": "HS512"}).encode()) + "." + b64(j(access).encode()) + "." + b64(b"x" * 64),
    "jwt_alg_none": b64(j({"alg": "none", "typ": "JWT"}).encode()) + "." + b64(j(access).encode()) + ".",
    "jwt_confusion": hs256(HS, access, key=open(os.path.join(FIXTURES, "ec_public.pem"), "rb").read()),
    "opaque_token": "Token ahk_0123456789abcdef",
    "opaque_issued": "Token " + issued("ab" * 32),
    "opaque_issued_bare": issued("0f" * 32),
    "opaque_bad_tag": "Token " + issued("ab" * 32)[:-1] + "0",
    "opaque_upper_hex": "Token " + issued("ab" * 32).upper().replace("AHK_", "ahk_"),
    "opaque_legacy": "Bearer ahk_" + "cd" * 32,
    "opaque_bare": "ahk_0123456789abcdef",
    "scheme_only": "Bearer",
    "two_parts": "Bearer a.b",
    "unicode_space": "Token\u3000x\u00a0",
}
for name, text in raw.items():
    write("credential", name, text)

SEP = b"\xff"
built = {
    "built_hs256_access": (HS, access, b"S"),
    "built_hs256_user_string": (HS, {"user_id": "alice", "exp": FUTURE}, b"S"),
    "built_hs256_refresh": (HS, dict(access, token_type="refresh"), b"S"),
    "built_hs256_nbf": (HS, dict(access, nbf=FUTURE - 1), b"S"),
    "built_hs256_float_exp": (HS, dict(access, exp=4.1e9), b"S"),
    "built_hs256_wrong_secret": (HS, access, b"W"),
    "built_es256": (ES, access, b"E"),
    "built_es256_sub_only": (ES, {"sub": "1", "exp": FUTURE}, b"E"),
    "built_confusion": (HS, access, b"P"),
    "built_alg_none": ({"alg": "none"}, access, b""),
    "built_rs256": ({"alg": "RS256", "kid": "k"}, access, b"E"),
}
for name, (header, claims, signer) in built.items():
    write("credential", name, j(header).encode() + SEP + j(claims).encode() + SEP + signer)

print("seeds written under", CORPUS, file=sys.stderr)
