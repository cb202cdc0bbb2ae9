"""What the gateway changed in the requests it sent, per model: how many attempts had
their output maximum capped to the model's `output_limit_tokens`, and which sampling
settings were left out because the model refuses them, how often (the attempt columns
`output_capped` and `dropped_params`, ledger migration 2).

Per model whatever the report is grouped by: a change belongs to the model it was made
for. Only models with at least one changed attempt in the window are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from switchpoint.ledger.database import Connection

_ATTEMPTS_IN_WINDOW = (
    "FROM attempts a JOIN requests r ON r.request_id = a.request_id WHERE r.ts >= ?"
)


@dataclass(slots=True)
class ModelChanges:
    model: str
    # The attempts sent to the model in the window, changed or not.
    attempts: int = 0
    # Of them, those whose output maximum was capped to the model's limit.
    output_capped: int = 0
    # Sampling setting -> the attempts sent without it, most often first.
    dropped_params: dict[str, int] = field(default_factory=dict)


def attempt_changes(connection: Connection, since: float) -> list[ModelChanges]:
    """Models by how many of their attempts were changed, most first."""
    totals = connection.execute(
        "SELECT a.model, COUNT(*), "
        "SUM(CASE WHEN a.output_capped IS NOT NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN a.output_capped IS NOT NULL OR a.dropped_params IS NOT NULL "
        "THEN 1 ELSE 0 END) "
        f"{_ATTEMPTS_IN_WINDOW} GROUP BY a.model",
        (since,),
    )
    models: dict[str, ModelChanges] = {}
    changed: dict[str, int] = {}
    for model, attempts, capped, altered in totals:
        if altered:
            name = str(model)
            models[name] = ModelChanges(name, int(attempts), int(capped))
            changed[name] = int(altered)
    if not models:
        return []
    # Stored comma-joined (`temperature,top_p`): the few distinct sets are split here,
    # the same on both backends.
    dropped = connection.execute(
        f"SELECT a.model, a.dropped_params, COUNT(*) {_ATTEMPTS_IN_WINDOW} "
        "AND a.dropped_params IS NOT NULL GROUP BY a.model, a.dropped_params",
        (since,),
    )
    for model, params, count in dropped:
        counts = models[str(model)].dropped_params
        for param in str(params).split(","):
            if param:
                counts[param] = counts.get(param, 0) + int(count)
    for entry in models.values():
        entry.dropped_params = dict(
            sorted(entry.dropped_params.items(), key=lambda item: (-item[1], item[0]))
        )
    return sorted(models.values(), key=lambda entry: (-changed[entry.model], entry.model))
