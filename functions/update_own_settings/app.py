"""PATCH /users/me/settings: change account settings (audited)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


class SettingsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    timezone: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$")
    email_notifications: StrictBool | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError("not an IANA time zone (e.g. Europe/Warsaw)") from error
        return value


@app.patch("/users/me/settings", responses=responses(200, 409, description="The settings."))
def update_own_settings(change: SettingsChange) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    return account.update_settings(principal.user_id, change.model_dump(exclude_none=True), request_metadata(app))


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
