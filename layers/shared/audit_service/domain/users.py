"""Users and their personal data (kept apart: email validation costs ~15 ms to import,
and only the account functions need it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr, Field, field_validator

from audit_service.domain.models import Strict


class UserProfile(Strict):
    """Personal data of a user; stored only encrypted."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return value.strip().lower()


class User(Strict):
    id: int = Field(ge=1)
    profile: UserProfile
    created_at: datetime
