"""How many members and invitations a tenant has, kept on its ``TENANT`` item.

A listing's ``total`` is then one ``GetItem``, not a ``Select=COUNT`` over the tenant's partition (which reads
every member or invitation item: one call per ~1 MB). Every transaction that adds or removes a member or an
invitation also moves its count, so the two never disagree.

Tenants made before the counts existed have none: the first change counts the items once and sets
``count = if_not_exists(count, <items before the change>) + delta``. If another change set the count
meanwhile, ``if_not_exists`` keeps that one, so the count is right either way; until its first change such a
tenant's total is counted the old way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit_service.dal.dynamo import key, prefix_count

MEMBERS = "members"
INVITATIONS = "invitations"
_PREFIX = {MEMBERS: "MEMBER#", INVITATIONS: "INVITATION#"}


@dataclass(frozen=True, slots=True)
class CountChange:
    """``SET <name> = if_not_exists(<name>, :base) + :delta`` on the tenant item, as update-expression parts."""

    name: str
    base: int
    delta: int

    def expression(self) -> str:
        return f"#{self.name} = if_not_exists(#{self.name}, :{self.name}_base) + :{self.name}_delta"

    def names(self) -> dict[str, str]:
        return {f"#{self.name}": self.name}

    def values(self) -> dict[str, Any]:
        return {f":{self.name}_base": {"N": str(self.base)}, f":{self.name}_delta": {"N": str(self.delta)}}


class TenantCounts:
    def __init__(self, dynamodb: Any, *, tenants_table: str) -> None:
        self._db = dynamodb
        self._table = tenants_table

    def total(self, tenant_id: int, name: str) -> int:
        """The tenant's count of ``name`` (one consistent GetItem; the old count for a tenant never changed)."""
        stored = self._stored(tenant_id, name)
        return stored if stored is not None else self._counted(tenant_id, name)

    def change(self, tenant_id: int, name: str, delta: int) -> CountChange:
        """What a transaction that adds (+1) or removes (-1) one ``name`` item sets on the tenant item."""
        stored = self._stored(tenant_id, name)
        return CountChange(name, 0 if stored is not None else self._counted(tenant_id, name), delta)

    def _stored(self, tenant_id: int, name: str) -> int | None:
        response = self._db.get_item(
            TableName=self._table,
            Key=key(str(tenant_id), "TENANT"),
            ProjectionExpression="#n",
            ExpressionAttributeNames={"#n": name},
            ConsistentRead=True,
        )
        value = response.get("Item", {}).get(name)
        return int(value["N"]) if value else None

    def _counted(self, tenant_id: int, name: str) -> int:
        return prefix_count(self._db, table=self._table, pk=str(tenant_id), prefix=_PREFIX[name])


def tenant_update(table: str, tenant_id: int | str, change: CountChange, **update: Any) -> dict[str, Any]:
    """A transaction's ``Update`` of the tenant item: the count ``change``, with any other SET/ADD parts,
    condition and values given in ``update`` (``set``, ``add``, ``condition``, ``names``, ``values``)."""
    sets = [change.expression(), *update.get("set", [])]
    expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(update["add"]) if update.get("add") else "")
    entry: dict[str, Any] = {
        "TableName": table,
        "Key": key(str(tenant_id), "TENANT"),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": {**change.names(), **update.get("names", {})},
        "ExpressionAttributeValues": {**change.values(), **update.get("values", {})},
        "ConditionExpression": update.get("condition", "attribute_exists(pk)"),
    }
    return {"Update": entry}
