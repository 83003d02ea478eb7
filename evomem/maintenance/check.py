"""What ``check`` sees wrong in a store: one ``Damage`` per problem, each kind with its own exit-code bit.

| kind | what it means | what ``evomem check --repair`` does |
| --- | --- | --- |
| ``unsearchable`` (1) | stored segments that vector search cannot return | rebuilds the collection (``repair``) |
| ``memory-state`` (4) | a namespace's memory state is missing or unreadable | rebuilds it from the stored text |
| ``lexical-index`` (8) | a namespace's lexical index is unreadable or incomplete | rebuilds it from the stored text |
| ``journal`` (16) | a write in flight: a live writer's, or one a dead writer left | reconciles it (then rebuilds) |
| ``other-models`` (32) | the store's data is another model's, unseen by this one | nothing: ``evomem upgrade`` |

Exit code 2 stays the command line's own (a usage error, a store that cannot be opened).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import LexicalIndexError, StateCorruptedError
from ..storage.models import StoreModels
from ..storage.state import StateDirectory, models_with_states
from .workspace import Workspace

EXIT_BITS = {"unsearchable": 1, "memory-state": 4, "lexical-index": 8, "journal": 16, "other-models": 32}
REBUILT_BY_REBUILD = ("memory-state", "lexical-index", "journal")  # what ``rebuild(namespace)`` repairs


@dataclass(frozen=True)
class Damage:
    """One problem ``check`` found: its kind (a key of ``EXIT_BITS``), its namespace (None: the whole store)."""

    kind: str
    namespace: str | None
    detail: str


@dataclass(frozen=True)
class CheckReport:
    """Every namespace checked, what is wrong, and the records search misses per namespace (``unsearchable``:
    those the vector index or the lexical index lacks; empty lists when every record is reachable)."""

    namespaces: list[str]
    damages: list[Damage] = field(default_factory=list)
    unsearchable: dict[str, list[str]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when nothing is wrong, else the OR of the damages' bits."""
        code = 0
        for damage in self.damages:
            code |= EXIT_BITS[damage.kind]
        return code

    def lines(self) -> list[str]:
        """One line per namespace that is fine, and one per damage."""
        damaged = {damage.namespace for damage in self.damages}
        fine = [f"namespace {name}: ok" for name in self.namespaces if name not in damaged]
        found = [
            f"{'store' if d.namespace is None else f'namespace {d.namespace}'}: {d.kind}: {d.detail}"
            for d in self.damages
        ]
        return fine + found or ["no namespaces"]


def diagnose(workspace: Workspace, namespaces: list[str]) -> CheckReport:
    """Check each of ``namespaces`` (and the store's data of other models) without changing anything."""
    damages: list[Damage] = []
    unsearchable: dict[str, list[str]] = {}
    for name in namespaces:
        found, unsearchable[name] = _namespace(workspace, name)
        damages += found
    others = _other_models(workspace)
    if others:
        damages.append(others)
    return CheckReport(list(namespaces), damages, unsearchable)


def _namespace(workspace: Workspace, name: str) -> tuple[list[Damage], list[str]]:
    damages = []
    store, states = workspace.store, workspace.states
    in_flight = workspace.journal.has(name)
    step: int | None
    try:
        step = states.step(name)
    except StateCorruptedError as error:
        damages.append(Damage("memory-state", name, str(error)))
        step = None
    if step == 0 and not in_flight and store.has_records(name):
        damages.append(Damage("memory-state", name, str(states.missing(name))))
        step = None
    if in_flight:
        damages.append(Damage("journal", name, "a write in flight: a live writer's, or one a dead writer left"))
    lost = store.unsearchable(name)
    if lost:
        damages.append(Damage("unsearchable", name, f"{len(lost)} segments not searchable by vector: {_first(lost)}"))
    unindexed: list[str] = []
    if step:
        try:
            unindexed = store.lexically_unindexed(name, step)
        except LexicalIndexError as error:
            damages.append(Damage("lexical-index", name, str(error)))
        else:
            if unindexed:
                detail = f"{len(unindexed)} segments in one index only: {_first(unindexed)}"
                damages.append(Damage("lexical-index", name, detail))
    return damages, sorted({*lost, *unindexed})


def _other_models(workspace: Workspace) -> Damage | None:
    """Data this model does not see: the store is another model's (its ``model.json``), or, in a store written
    before stores kept their model, other models hold data. An old model's data kept after an upgrade is none."""
    if not isinstance(workspace.states, StateDirectory):  # shared states (PostgreSQL) hold this model's only
        return None
    current = StoreModels(workspace.path).current()
    if current == workspace.fingerprint:
        return None
    others = sorted(set(models_with_states(workspace.path)) - {workspace.fingerprint})
    if not others:
        return None
    detail = (
        f"data of other models ({', '.join(others)}), which this model does not see: open the store without naming "
        "a model to use its own, or `evomem upgrade` to re-encode it with this one"
    )
    return Damage("other-models", None, detail)


def _first(records: list[str]) -> str:
    return ", ".join(records[:5]) + (", ..." if len(records) > 5 else "")
