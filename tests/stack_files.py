"""Test helpers for stack files and the config the program receives: what the tests need and the
product does not (tools/plan/stack.py only reads stack files, and always applies the CLI's rules).

- `new_encryption_salt` and `encrypt_value` write `secure:` values as `pulumi stack init` and
  `pulumi config set --secret` would with the passphrase secrets provider, so a test can make a
  stack file whose secrets it knows;
- `stack_config(..., cli_rules=False)` hands the program what the CLI would refuse, as config
  reaching it another way (PULUMI_CONFIG, the Automation API) can: tests of the program's own
  checks need that. With `cli_rules=True` (the default) it is tools.plan.stack_config.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tools.plan import stack as plan_stack
from tools.plan.secure_values import derive_key
from tools.plan.stack import StackConfig, program_config, stack_values


def encrypt_value(key: bytes, plaintext: str, nonce: Optional[bytes] = None) -> str:
    """A `secure:` value: `v1:<nonce>:<AES-256-GCM ciphertext>`, base64."""
    nonce = nonce or os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def new_encryption_salt(passphrase: str) -> tuple[str, bytes]:
    """(`encryptionsalt` for a new stack file, the key it yields), as `pulumi stack init` makes."""
    salt = os.urandom(8)
    key = derive_key(passphrase, salt)
    return f"v1:{base64.b64encode(salt).decode()}:{encrypt_value(key, 'pulumi')}", key


def stack_config(stack: str, secrets: Optional[Mapping[str, str]] = None,
                 overrides: Optional[Mapping[str, Any]] = None, *, placeholder_secrets: bool = False,
                 passphrase: Optional[str] = None, path: Optional[Path] = None, cli_rules: bool = True) -> StackConfig:
    """tools.plan.stack_config; with `cli_rules=False`, without the CLI's rules."""
    if cli_rules:
        return plan_stack.stack_config(stack, secrets, overrides, placeholder_secrets=placeholder_secrets,
                                       passphrase=passphrase, path=path)
    given = stack_values(stack, secrets, overrides, placeholder_secrets=placeholder_secrets, path=path)
    return program_config(given, passphrase)
