"""Who may do what: one table, enforced on every endpoint through ``Allowed(...)``.

| permission       | owner | manager | chef | endpoints                                           |
| ---------------- | ----- | ------- | ---- | --------------------------------------------------- |
| forecasts:read   | yes   | yes     | yes  | GET /v1/forecasts, GET /v1/calendar,                |
|                  |       |         |      | GET /v1/calendar/days                               |
| days:write       | yes   | yes     | no   | POST /v1/calendar/days,                             |
|                  |       |         |      | PATCH/DELETE /v1/calendar/days/{day_id}             |
| forecasts:adjust | yes   | yes     | no   | PUT/DELETE /v1/forecasts/adjustments/{metric}/{day} |
| tenant:read      | yes   | yes     | yes  | GET /v1/tenant                                      |
| actuals:read     | yes   | yes     | no   | GET /v1/forecasts/with-actuals, GET /v1/sales/daily,|
|                  |       |         |      | GET /v1/forecasts/adjustments(/accuracy)            |
| models:read      | yes   | yes     | no   | GET /v1/models/current, GET /v1/accuracy            |
| uploads:read     | yes   | yes     | no   | GET /v1/uploads, GET /v1/uploads/{upload_id},       |
|                  |       |         |      | GET /v1/uploads/{upload_id}/rejections.csv          |
| uploads:write    | yes   | yes     | no   | POST /v1/uploads                                    |
| users:manage     | yes   | no      | no   | GET/POST /v1/users, GET/PATCH /v1/users/{user_id}   |
| self             | yes   | yes     | yes  | GET /v1/users/me, POST /v1/users/me/password        |

A chef reads forecasts only, with the closures and the numbers the managers set: actual sales
(money), uploads and the changes to a forecast are for managers and owners.
"""

from __future__ import annotations

from typing import Literal

from flux_core.users import UserRole

Permission = Literal[
    "forecasts:read",
    "days:write",
    "forecasts:adjust",
    "tenant:read",
    "actuals:read",
    "models:read",
    "uploads:read",
    "uploads:write",
    "users:manage",
    "self",
]

PERMISSIONS: dict[Permission, frozenset[UserRole]] = {
    "forecasts:read": frozenset({"owner", "manager", "chef"}),
    "days:write": frozenset({"owner", "manager"}),
    "forecasts:adjust": frozenset({"owner", "manager"}),
    "tenant:read": frozenset({"owner", "manager", "chef"}),
    "actuals:read": frozenset({"owner", "manager"}),
    "models:read": frozenset({"owner", "manager"}),
    "uploads:read": frozenset({"owner", "manager"}),
    "uploads:write": frozenset({"owner", "manager"}),
    "users:manage": frozenset({"owner"}),
    "self": frozenset({"owner", "manager", "chef"}),
}


def allows(role: UserRole, permission: Permission) -> bool:
    return role in PERMISSIONS[permission]
