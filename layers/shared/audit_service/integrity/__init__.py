"""Tamper evidence: record hashes, Merkle blocks, signed checkpoint chains, verification.

Everything in this package is pure (no AWS calls), so the same code verifies a
tenant's log online (``GET /audit/tenants/{id}/verify``) and an exported bundle
offline (``ld-audit-admin verify-bundle``). See docs/architecture.md.
"""
