"""What the toolkit records on the collections it writes, as Milvus collection properties.

Properties live on the server with the collection itself (they survive a rename, vanish with
a drop), so every worker reads the same truth and a re-created collection starts clean:
- ``embedding``: the model and dimension that made the vectors; another model is refused
  unless the run rewrites every vector (a full rebuild or ``force_reembed``).
- ``build_of`` / ``build_run``: a blue/green build of that alias, made by that run. Only
  collections marked as builds of an alias are ever dropped by its retention.
- ``legacy_of``: a plain collection that was renamed so its name could become an alias.
- ``previous``: the collection the alias really left when it moved to this one (the
  rollback target).
- ``source_root``: the root that source names are relative to (one per tenant in a
  tenant collection: ``source_root.<tenant>``).
"""

from __future__ import annotations

from milvus_toolkit.rules import PermanentError

PREFIX = "milvus_toolkit."
EMBEDDING = PREFIX + "embedding"
BUILD_OF = PREFIX + "build_of"
BUILD_RUN = PREFIX + "build_run"
LEGACY_OF = PREFIX + "legacy_of"
PREVIOUS = PREFIX + "previous"
SOURCE_ROOT = PREFIX + "source_root"


def source_root_key(tenant: str | None) -> str:
    """Where the source root is recorded: tenants of one collection keep their own roots."""
    return f"{SOURCE_ROOT}.{tenant}" if tenant else SOURCE_ROOT


class EmbeddingMismatchError(PermanentError, ValueError):
    """The collection's vectors were made by another embedding model than the run's."""


def embedding_identity(choice) -> str:
    """``<model>/<dim>`` of an ``EmbeddingChoice``: what makes two vectors comparable."""
    return f"{choice.model}/{choice.dim}"


def check_embedding(hook, collection: str, identity: str, *, rewrites_all: bool = False) -> str | None:
    """Refuse to mix two vector spaces in one collection. Returns the recorded identity.

    ``rewrites_all``: the run re-embeds every row it keeps (a full rebuild into a new
    collection, or ``force_reembed``), so a model change is what it is for."""
    recorded = hook.collection_properties(collection).get(EMBEDDING)
    if recorded and recorded != identity and not rewrites_all:
        raise EmbeddingMismatchError(
            f"collection '{collection}' holds vectors of '{recorded}', but this run embeds with "
            f"'{identity}'. Mixing two models in one collection makes searches meaningless; nothing "
            f"was changed. Use the model the collection was built with, write into another "
            f"collection, or rebuild it (milvus_reindex with strategy=full, or force_reembed=true)."
        )
    return recorded


def legacy_copies(hook, name: str) -> list[str]:
    """The collections that were plain collections called ``name`` before the name became an
    alias (marked ``legacy_of`` before the rename), oldest name first."""
    return sorted(c for c in hook.list_collections() if hook.collection_properties(c).get(LEGACY_OF) == name)


def record_embedding(hook, collection: str, identity: str) -> None:
    if hook.collection_properties(collection).get(EMBEDDING) != identity:
        hook.set_collection_properties(collection, {EMBEDDING: identity})
