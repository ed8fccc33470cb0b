"""What erasure leaves where personal data was: a marker text and keyed pseudonyms.

`core.erasure` writes them; `core.actions.do_ingest` computes the pseudonym of every inbound
message id, so a channel redelivering a message whose sender was erased finds the erased row
and stores nothing again (see docs/privacy.md).
"""

from __future__ import annotations

import hashlib
import hmac

ERASED_TEXT = "[erased]"
PSEUDONYM_PREFIX = "erased:"
# What a pseudonym stands for, so an identity's and a message's never collide.
IDENTITY = "identity"
MESSAGE = "message"


def pseudonym(secret: str, scope: str, channel: str, value: str) -> str:
    """``erased:<hex>``: HMAC-SHA256 of a channel's id under a key derived from SECRET_KEY.

    The same id always gives the same pseudonym (so redeliveries are recognised); without
    the secret it cannot be computed, so a database copy does not reveal who was erased.
    """
    key = hashlib.sha256(b"tawasul-erasure|" + secret.encode()).digest()
    material = "\n".join((scope, channel, value)).encode("utf-8", "surrogatepass")
    return PSEUDONYM_PREFIX + hmac.new(key, material, hashlib.sha256).hexdigest()


def is_pseudonym(value: str | None) -> bool:
    """Whether a stored id is already a pseudonym."""
    return bool(value) and str(value).startswith(PSEUDONYM_PREFIX)


def erased_name(customer_id: int) -> str:
    """The display name an erased customer keeps."""
    return f"Erased customer #{customer_id}"
