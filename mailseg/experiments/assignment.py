"""Who a policy holds out: a stable hash of (policy, salt, subscriber id), computed in SQL with plain
integer arithmetic so it is the same on SQLite and PostgreSQL, in every process and run.

The policy and salt give four keys (from SHA-256); the subscriber id goes through two rounds of
"multiply-add, square-add" modulo the prime 2^31 - 1. Every intermediate stays below 2^62, inside a
64-bit integer on both databases. The result's last four digits are the bucket (0..9999): a
subscriber is held out when the bucket is below share x 10,000. The same subscriber therefore stays
in the same group run after run; a new salt (or another policy) draws an independent split.
`held_out_reference` is the same function in Python, for tests and explanations.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import BigInteger, cast, literal

from ..config import Config

PRIME = 2_147_483_647  # 2^31 - 1
BUCKETS = 10_000
POLICIES = ("cap", "reengagement", "resend", "offer", "plan")


def settings(config: Config, policy: str) -> tuple[float, str]:
    """(share, salt) of the policy's holdout."""
    if policy not in POLICIES:
        raise ValueError(f"no experiment for policy {policy!r} (known: {', '.join(POLICIES)})")
    return getattr(config.holdout, f"{policy}_share"), getattr(config.holdout, f"{policy}_salt")


def _keys(policy: str, salt: str) -> tuple[int, int, int, int]:
    digest = hashlib.sha256(f"mailseg-holdout|{policy}|{salt}".encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "big") % PRIME for i in (0, 4, 8, 12))  # type: ignore[return-value]


def bucket_reference(policy: str, salt: str, subscriber_id: int) -> int:
    k1, k2, k3, k4 = _keys(policy, salt)
    a = (subscriber_id % PRIME * 48271 + k1) % PRIME
    b = (a * a + k2) % PRIME
    c = (b * 16807 + k3) % PRIME
    d = (c * c + k4) % PRIME
    return d % BUCKETS


def held_out_reference(policy: str, salt: str, share: float, subscriber_id: int) -> bool:
    return bucket_reference(policy, salt, subscriber_id) < round(share * BUCKETS)


def bucket(policy: str, salt: str, subscriber_id):
    """SQL: the bucket (0..9999) of a subscriber id column."""
    k1, k2, k3, k4 = (literal(k, BigInteger) for k in _keys(policy, salt))
    p = literal(PRIME, BigInteger)
    a = (cast(subscriber_id, BigInteger) % p * literal(48271, BigInteger) + k1) % p
    b = (a * a + k2) % p
    c = (b * literal(16807, BigInteger) + k3) % p
    d = (c * c + k4) % p
    return d % literal(BUCKETS, BigInteger)


def held_out(config: Config, policy: str, subscriber_id):
    """SQL condition: the policy holds this subscriber out (false for every subscriber at share 0)."""
    share, salt = settings(config, policy)
    return bucket(policy, salt, subscriber_id) < round(share * BUCKETS)
