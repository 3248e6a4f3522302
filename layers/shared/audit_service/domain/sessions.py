"""Session events the platform's sign-in flow publishes on the audit bus."""

from __future__ import annotations

from pydantic import AwareDatetime, Field, IPvAnyAddress

from audit_service.domain.models import Strict

SESSION_ID = r"^[A-Za-z0-9._:-]{1,128}$"


class SessionStarted(Strict):
    """``detail-type: Session Started``."""

    session_id: str = Field(pattern=SESSION_ID)
    user_id: int = Field(ge=1)
    provider: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    source_ip: IPvAnyAddress | None = None
    user_agent: str | None = Field(default=None, max_length=512)
    started_at: AwareDatetime
    expires_at: AwareDatetime


class SessionEnded(Strict):
    """``detail-type: Session Ended``."""

    session_id: str = Field(pattern=SESSION_ID)
    user_id: int = Field(ge=1)
    ended_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=64)
