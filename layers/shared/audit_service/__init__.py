"""Shared domain package of the audit and compliance service.

Subpackages:
- ``domain``: pure business rules (catalog of event types, roles and
  permissions, models, errors). No AWS here.
- ``crypto``: envelope encryption (AWS Encryption SDK over KMS) and keyed
  one-way hashes (blind indexes).
- ``dal``: the only code that talks to DynamoDB.
- ``services``: use cases that combine the above (authenticate, authorize,
  record security events, manage accounts).
- ``api``: what every HTTP function shares (resolver, error mapping, caller).
- ``admin``: the operator's command-line tool.
"""
