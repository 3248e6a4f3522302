"""Users and their personal data.

Email validation costs ~25 ms to import (its RFC patterns compile on import):
these models build their validators when first used (``defer_build``), so only a
request that validates a profile pays it, not every account route's cold start.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, EmailStr, Field, field_validator

from audit_service.domain.models import Strict


class UserProfile(Strict):
    """Personal data of a user; stored only encrypted."""

    model_config = ConfigDict(defer_build=True)

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return value.strip().lower()


class User(Strict):
    model_config = ConfigDict(defer_build=True)

    id: int = Field(ge=1)
    profile: UserProfile
    created_at: datetime
