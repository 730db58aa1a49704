"""The plan's kept state: what the next plan's changes are reviewed against (tools/plan/diff.py).

The last plan of a stack is kept as a state file (out/<stack>/state.json, 0600 in a 0700 folder):
each resource's type, inputs as shown (secrets masked) and a digest of every input, so a later
plan can tell changed from unchanged without the values. The file never holds a secret; a secret
input's digest is an HMAC-SHA256 of (resource URN, input key, value) under a key that is not in
the file: HKDF-SHA256 of the stack's passphrase key (the passphrase secrets provider's: PBKDF2-
SHA256, 1,000,000 rounds of PULUMI_CONFIG_PASSPHRASE and the stack file's `encryptionsalt`) with
the file's random salt. So a guess at a secret costs a guess at the passphrase (the PBKDF2), and
equal secrets give different digests in different places and in different files. A plan without
the passphrase (--placeholder-secrets: the secrets are placeholders, public strings) keys them
with the file's salt alone, and says so in the file ("key": "none"): placeholders are no secret.
A stack without a passphrase key whose secrets came from --secrets-file keys them with PBKDF2 of
all those secrets together ("key": "secrets-file").
State files of format 1 (scrypt N=2^12 under one salt per file, equal for equal secrets) are
still read and compared with, and the next plan replaces them.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Optional

from tools.plan.files import private_dir, write_private
from tools.plan.recording import Recording
from tools.plan.secure_values import PBKDF2_ROUNDS
from tools.plan.wire import unwrap

STATE_FORMAT = 2
READABLE_FORMATS = (1, 2)  # 1: scrypt N=2^12 secret digests (compared with, never written)
BOOKKEEPING = ("__defaults",)  # SDK fields that are not inputs a user changes
HKDF_INFO = b"openstack-nova plan state: secret input digests"
SECRET_DIGESTS = {  # how format 2 digests secrets, as the file says it
    "mac": "hmac-sha256", "message": "[resource URN, input key, value] as JSON",
    "key": "passphrase", "key_derivation": "hkdf-sha256 of the stack's passphrase key, salt: this file's salt",
    "kdf": "pbkdf2-sha256", "rounds": PBKDF2_ROUNDS,
    "kdf_input": "PULUMI_CONFIG_PASSPHRASE and the stack file's encryptionsalt (the passphrase secrets provider's key)",
}
GIVEN_SECRETS_DIGESTS = {  # a stack without a passphrase key, its secrets from --secrets-file
    **SECRET_DIGESTS, "key": "secrets-file",
    "key_derivation": "hkdf-sha256 of the secrets-file key, salt: this file's salt",
    "kdf_input": "every secret the plan was given (--secrets-file), as sorted JSON, salt: "
                 "'openstack-nova plan state: given secrets'",
}
UNKEYED = {  # a plan without the passphrase: its secrets are placeholders, public strings
    "mac": "hmac-sha256", "message": SECRET_DIGESTS["message"],
    "key": "none", "key_derivation": "hkdf-sha256 of nothing, salt: this file's salt (anyone can recompute it)",
    "why": "planned without the stack's passphrase (--placeholder-secrets): the secret inputs are placeholders",
}
NOT_COMPARED = "not-compared"  # a secret digest that cannot be recomputed (shown as changed)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _hkdf(ikm: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869), one 32-byte block."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, HKDF_INFO + b"\x01", hashlib.sha256).digest()


class Digests:
    """How one state file digests inputs. `stack_key` is the passphrase secrets provider's key
    (None when the plan had no passphrase). Plain inputs: sha256 of salt and value (their values
    are in the file anyway). Secret inputs: see the module's docstring."""

    def __init__(self, salt: bytes, stack_key: Optional[bytes], format: int = STATE_FORMAT,
                 compared: bool = True, key_kind: str = "passphrase"):
        self.salt, self.format, self.keyed, self.compared = salt, format, stack_key is not None, compared
        self.key_kind = key_kind
        self._key = _hkdf(stack_key or b"", salt) if format >= 2 else None

    @classmethod
    def fresh(cls, stack_key: Optional[bytes], key_kind: str = "passphrase") -> "Digests":
        return cls(os.urandom(16), stack_key, key_kind=key_kind)

    @classmethod
    def of(cls, state: dict, stack_key: Optional[bytes]) -> "Digests":
        """Digests of this plan that compare with `state`'s: its salt, its key (when this plan's
        passphrase key is the one it was written under; else secrets are not compared)."""
        salt = bytes.fromhex(state["salt"])
        if state["format"] == 1:
            return cls(salt, None, format=1)
        if state["secret_digests"]["key"] == "none":
            return cls(salt, None)
        mine = cls(salt, stack_key)
        return mine if stack_key is not None and mine.key_check() == state["secret_digests"]["key_check"] else \
            cls(salt, None, compared=False)

    def key_check(self) -> str:
        return hmac.new(self._key, b"key check", hashlib.sha256).hexdigest()

    def header(self) -> dict:
        kind = (GIVEN_SECRETS_DIGESTS if self.key_kind == "secrets-file" else SECRET_DIGESTS) if self.keyed else UNKEYED
        return {**kind, "key_check": self.key_check()}

    def __call__(self, urn: str, key: str, value: Any, secret: bool) -> str:
        canonical = _canonical(value)
        if not secret:
            return "sha256:" + hashlib.sha256(self.salt + canonical).hexdigest()
        if not self.compared:
            return NOT_COMPARED
        if self.format == 1:
            return "scrypt:" + hashlib.scrypt(canonical, salt=self.salt, n=2 ** 12, r=8, p=1, dklen=16).hex()
        return "hmac-sha256:" + hmac.new(self._key, _canonical([urn, key, value]), hashlib.sha256).hexdigest()


def given_secrets_key(secrets: Mapping[str, str]) -> bytes:
    """The digest key of a plan whose secrets came from --secrets-file and whose stack has no
    passphrase key: PBKDF2 of all of them together, so a guess at one costs a guess at every other
    and the rounds. A changed secret changes the key: the next plan says it cannot compare."""
    return hashlib.pbkdf2_hmac("sha256", _canonical(dict(sorted(secrets.items()))),
                               b"openstack-nova plan state: given secrets", PBKDF2_ROUNDS)


def comparison_note(old: Optional[dict], stack_key: Optional[bytes]) -> Optional[str]:
    """What the review of a plan against `old` cannot tell, or that `old` is of the old format."""
    if not old:
        return None
    if old["format"] == 1:
        return "the kept state is of format 1 (weak secret digests: scrypt N=2^12, equal for equal secrets): compared with it"
    if not Digests.of(old, stack_key).compared:
        why = ("this plan has no passphrase (placeholder secrets)" if stack_key is None
               else "this plan's key is another (passphrase, encryptionsalt or a secrets file's secrets changed)")
        by = "the secrets given in a file" if old["secret_digests"]["key"] == "secrets-file" else "the stack's passphrase"
        return (f"the kept state's secret digests are keyed with {by} and {why}: "
                "secret inputs cannot be compared and are shown as changed")
    return None


def snapshot(rec: Recording, stack_key: Optional[bytes] = None, *, digests: Optional[Digests] = None,
             digest_urns: Optional[Mapping[str, str]] = None, key_kind: str = "passphrase") -> dict:
    """The state a plan leaves behind: enough to review the next plan against it. `stack_key`:
    the passphrase secrets provider's key (None: a plan without the passphrase). `digest_urns`:
    the URN a moved resource's secrets are digested under (its old one, to compare with)."""
    digest_urns = digest_urns or {}
    digests = digests or Digests.fresh(stack_key, key_kind)
    resources = {}
    for r in rec.resources():
        plain = unwrap(r.raw_inputs)
        secret = {path.split(".")[0].split("[")[0] for path in r.secret_inputs}
        resources[r.urn] = {
            "type": r.type, "name": r.name, "custom": r.custom, "inputs": r.inputs,
            "digests": {key: digests(digest_urns.get(r.urn, r.urn), key, plain[key], key in secret)
                        for key in plain if key not in BOOKKEEPING},
            "secret": sorted(secret), "dependencies": r.dependencies,
            "delete": isinstance(plain.get("delete"), str) and bool(plain.get("delete")),
        }
    return {"format": digests.format, "stack": rec.stack, "written": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "salt": digests.salt.hex(), **({"secret_digests": digests.header()} if digests.format >= 2 else {}),
            "resources": resources}


def save_state(path: Path, state: dict) -> None:
    """Written 0600, atomically, in a 0700 folder (tools/plan/files.py)."""
    private_dir(path.parent)
    write_private(path, json.dumps(state, indent=1, sort_keys=True) + "\n")


def load_state(path: Path) -> Optional[dict]:
    """The kept state, or None when there is none; ValueError (a message for people) when it is
    not a state file this tool reads."""
    if not os.path.lexists(path):
        return None
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not a state file; remove it and plan again")
    try:
        state = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a state file ({err}); delete it and plan again") from None
    except OSError as err:  # unreadable, or a link to nothing
        raise ValueError(f"{path}: cannot be read ({err.strerror}); delete it and plan again") from None
    fmt = state.get("format") if isinstance(state, dict) else None
    if fmt not in READABLE_FORMATS:
        raise ValueError(f"{path}: state format {fmt!r}, this tool reads {', '.join(map(str, READABLE_FORMATS))}; "
                         "delete it and plan again")
    problem = _state_problem(state)
    if problem:
        raise ValueError(f"{path}: a damaged state file of format {fmt} ({problem}); delete it and plan again")
    return state


def _state_problem(state: dict) -> Optional[str]:
    try:
        if len(bytes.fromhex(state["salt"])) < 16:
            return "its salt is too short"
    except (KeyError, TypeError, ValueError):
        return "no salt"
    if state["format"] >= 2:
        header = state.get("secret_digests")
        if not isinstance(header, dict) or header.get("key") not in ("none", "passphrase", "secrets-file") \
                or not isinstance(header.get("key_check"), str):
            return "its secret digests say no key this tool uses"
        if header["key"] == "passphrase" and header.get("rounds") != PBKDF2_ROUNDS:
            return f"its secret digests' key is of {header.get('rounds')!r} PBKDF2 rounds, not {PBKDF2_ROUNDS}"
    resources = state.get("resources")
    if not isinstance(resources, dict):
        return "no resources"
    for urn, r in resources.items():
        if not isinstance(r, dict) or not {"type", "name", "custom", "inputs", "digests", "secret", "dependencies",
                                           "delete"} <= set(r) or not isinstance(r["digests"], dict):
            return f"resource {urn} is incomplete"
    if not isinstance(state.get("written"), str):  # the review names it: "against out/dev/state.json (<when>)"
        return "no time it was written"
    return None
