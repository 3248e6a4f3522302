"""Envelope encryption of personal data and keyed one-way hashes."""
