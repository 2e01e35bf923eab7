"""The rules and limits that more than one part of the toolkit checks, each written once."""

from __future__ import annotations

import re
from typing import Literal

COLLECTION_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_COLLECTION_NAME_LENGTH = 255
MAX_VECTOR_DIM = 32768
# A VARCHAR field holds at most 65,535 bytes: the text field's limit, hence every chunk's.
MAX_TEXT_BYTES = 65535
# Tenants: the partition-key field of a tenant collection, and the values a tenant may take
# (they go into filter expressions, so no quotes or operators).
TENANT_FIELD = "tenant"
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_TENANT_LENGTH = 256  # the field's VARCHAR length
# The embeddings a run may name (built by milvus_toolkit.embeddings): the one list, used by every params model.
EmbeddingName = Literal["local", "openai", "deterministic"]
EMBEDDING_NAMES: tuple[str, ...] = EmbeddingName.__args__


class PermanentError(Exception):
    """An error no retry can heal (bad params or input, a collection of another shape or
    model, a failed validation, a rejected chunk): the task fails at once."""


def check_collection_name(value: str) -> str:
    if not re.match(COLLECTION_NAME_PATTERN, value or "") or len(value) > MAX_COLLECTION_NAME_LENGTH:
        raise ValueError(
            "must start with a letter or underscore and hold only letters, digits and "
            f"underscores, at most {MAX_COLLECTION_NAME_LENGTH} characters (a Milvus collection name)"
        )
    return value


def check_tenant(value: str) -> str:
    if not re.match(TENANT_PATTERN, value or ""):
        raise ValueError(
            "must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit (a tenant name)"
        )
    return value


def tenant_filter(tenant: str | None) -> str:
    """The filter expression that scopes reads (and so deletes) to one tenant; '' for none."""
    return f'{TENANT_FIELD} == "{check_tenant(tenant)}"' if tenant else ""


def describe_validation_errors(exc, label: str = "param") -> list[str]:
    """pydantic's errors as "<label> 'field': message" lines; a missing field says that a
    run acts only on what it is given."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required (a run acts only on what it is given; there is no default)"
        problems.append(f"{label} '{where}': {message}" if where else message)
    return problems
