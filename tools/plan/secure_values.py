"""The passphrase secrets provider, as the Pulumi CLI has it (pinned CLI 3.272,
`sdk/go/common/resource/config/crypt.go` and `pkg/secrets/passphrase`): `secure:` values are
AES-256-GCM under a key derived (PBKDF2-SHA256, 1,000,000 rounds) from PULUMI_CONFIG_PASSPHRASE
(or the file PULUMI_CONFIG_PASSPHRASE_FILE names) and the stack file's `encryptionsalt`, whose own
ciphertext of "pulumi" proves the passphrase right.
"""
from __future__ import annotations

import base64
import errno
import functools
import hashlib
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from tools.plan.stack_file import StackConfigError

PBKDF2_ROUNDS = 1_000_000


@functools.lru_cache(maxsize=8)
def derive_key(passphrase: str, salt: bytes) -> bytes:
    """The passphrase secrets provider's key: PBKDF2-SHA256 of the passphrase and the stack file's
    `encryptionsalt` (cached: a million rounds take a while). The passphrase's bytes are the CLI's
    (Go strings are bytes): bytes that are not UTF-8 come as surrogate escapes (passphrase_from,
    os.environ) and go back to the same bytes here."""
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8", "surrogateescape"), salt, PBKDF2_ROUNDS, 32)


# What Go's strings.TrimSpace takes off both ends (unicode.IsSpace): the CLI trims a passphrase
# file's content with it.
GO_WHITE_SPACE = ("\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
                  + "\u2028\u2029\u202f\u205f\u3000")


def passphrase_from(env: Mapping[str, str]) -> Optional[str]:
    """The passphrase as the CLI reads it (pkg/secrets/passphrase, `readPassphrase`):
    PULUMI_CONFIG_PASSPHRASE when it is set (even empty), else the content of the file a non-empty
    PULUMI_CONFIG_PASSPHRASE_FILE names, white space trimmed, byte for byte (what is not UTF-8 is
    kept as surrogate escapes, as os.environ keeps it). None when neither is set. A file that
    cannot be read is a StackConfigError naming the variable and the file, never its content."""
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        return env["PULUMI_CONFIG_PASSPHRASE"]
    name = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not name:
        return None
    try:
        content = Path(name).read_bytes()
    except OSError as err:
        why = {errno.ENOENT: "does not exist", errno.EISDIR: "is a folder, not a file"}.get(
            err.errno, f"cannot be read ({err.strerror})")
        raise StackConfigError(f"PULUMI_CONFIG_PASSPHRASE_FILE: {name} {why}; point it at the file that holds the "
                               "stacks' passphrase, or set PULUMI_CONFIG_PASSPHRASE") from None
    return content.decode("utf-8", "surrogateescape").strip(GO_WHITE_SPACE)


def decrypt_value(key: bytes, ciphertext: str) -> str:
    """A `secure:` value (`v1:<nonce>:<AES-256-GCM ciphertext>`, base64) decrypted; ValueError when
    it is not one or the key is not its key."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only when a secret is read

    parts = ciphertext.split(":") if isinstance(ciphertext, str) else []
    if len(parts) != 3 or parts[0] != "v1":
        raise ValueError("bad value")
    try:
        return AESGCM(key).decrypt(base64.b64decode(parts[1]), base64.b64decode(parts[2]), None).decode()
    except (InvalidTag, ValueError):
        raise ValueError("bad value") from None


def passphrase_key(stack: str, document: Mapping[str, Any], passphrase: Optional[str]) -> bytes:
    if document.get("secretsprovider") not in (None, "passphrase"):
        raise StackConfigError(
            f"stack {stack!r} keeps its secrets with {document['secretsprovider']!r}, which needs the Pulumi CLI; "
            "plan it with --placeholder-secrets")
    salt_text = document.get("encryptionsalt")
    if not isinstance(salt_text, str) or not salt_text.startswith("v1:") or salt_text.count(":") != 4:
        raise StackConfigError(f"stack {stack!r} has secure values but no valid `encryptionsalt`")
    if passphrase is None:
        passphrase = passphrase_from(os.environ)
    if passphrase is None:
        raise StackConfigError(
            f"stack {stack!r} has secure values: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE "
            "to its passphrase (or plan with --placeholder-secrets)")
    _, salt_b64, check = salt_text.split(":", 2)
    key = derive_key(passphrase, base64.b64decode(salt_b64))
    try:
        if decrypt_value(key, check) != "pulumi":
            raise ValueError
    except ValueError:
        raise StackConfigError(f"stack {stack!r}: incorrect passphrase") from None
    return key
