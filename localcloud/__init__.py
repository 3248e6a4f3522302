"""The local cloud: the template's resources on moto, its functions in-process.

``python -m localcloud`` (``make run``) starts it; the tests use the same
pieces (``provision``, ``runtime``, ``gateway``, ``pollers``) directly.
"""
