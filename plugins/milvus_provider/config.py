"""Connection settings and collection layout, free of Airflow imports (unit-testable)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

DEFAULT_PORT = 19530
DEFAULT_TIMEOUT = 30.0
ConsistencyLevel = Literal["Strong", "Bounded", "Session", "Eventually"]


class MilvusConnectionConfig(BaseModel):
    """Everything needed to open a Milvus client, parsed from an Airflow connection.

    Secrets are ``SecretStr``: they print as ``**********`` in ``repr``, logs and tracebacks.
    Only :meth:`client_kwargs` reveals them, to hand them to pymilvus.
    """

    # hide_input_in_errors: a validation error never shows the value it refused (a token).
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    uri: str
    db_name: str = "default"
    user: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    secure: bool = False
    server_pem_path: str | None = None
    server_name: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            # Re-raised without input values (pydantic's message carries ``input_value=...``).
            raise ValueError(_safe_errors(exc)) from None

    @field_validator("password", "token", mode="before")
    @classmethod
    def _secret_as_text(cls, value: Any) -> Any:
        # A token stored as a JSON number is still a token; any other type is refused
        # without showing the value.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if value is not None and not isinstance(value, (str, SecretStr)):
            raise ValueError(f"must be a string, got a {type(value).__name__} (value not shown)")
        return value

    @field_validator("secure", mode="before")
    @classmethod
    def _parse_bool(cls, value: Any) -> Any:
        # Extras from a connection URI (?secure=false) arrive as strings.
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"", "0", "false", "no", "off"}:
                return False
            if lowered in {"1", "true", "yes", "on"}:
                return True
            raise ValueError(f"'secure' must be true or false, got {value!r}")
        return bool(value) if value is not None else False

    @field_validator("timeout", mode="before")
    @classmethod
    def _parse_timeout(cls, value: Any) -> Any:
        if value in (None, ""):
            return DEFAULT_TIMEOUT
        timeout = float(value)
        if timeout <= 0:
            raise ValueError(f"'timeout' must be a positive number of seconds, got {value!r}")
        return timeout

    @classmethod
    def from_connection(
        cls, conn: Any, *, timeout: float | None = None, extra: dict[str, Any] | None = None
    ) -> MilvusConnectionConfig:
        """Build from an Airflow ``Connection`` (any object with the same attributes).

        ``extra``: the connection's extras, already parsed. Async callers pass the result of
        ``await conn.aextra_dejson()``: the sync ``extra_dejson`` registers secrets with the
        supervisor by a blocking call, which must not run on a triggerer's event loop.
        """
        raw_extra = (extra if extra is not None else conn.extra_dejson) or {}
        # The Airflow 3.2+ form stores extras flat ("token"); older forms prefixed them.
        extra = {k.removeprefix("extra__milvus__"): v for k, v in raw_extra.items()}
        host = (conn.host or "").strip()
        if not host:
            raise ValueError(
                f"connection '{conn.conn_id}' has no URI/host: set it to e.g. "
                f"http://127.0.0.1:19530, https://<id>.zillizcloud.com or /path/to/milvus.db"
            )
        secure = cls._parse_bool(extra.get("secure", False))
        token = extra.get("token")
        token = None if token in (None, "") else token
        user, password = conn.login or None, conn.password or None
        uri_user, uri_password = split_userinfo(host)
        if uri_user is not None or uri_password is not None:
            # Credentials in the URI's userinfo move into the credentials (never left in the
            # URI, where they would reach every message and log line naming the server).
            if (user or password) and (user, password) != (uri_user, uri_password):
                raise ValueError(
                    f"connection '{conn.conn_id}' has credentials both in the URI and in its "
                    f"Login/Password fields, and they differ: keep one of them"
                )
            user, password = uri_user, uri_password
        return cls(
            uri=build_uri(host, conn.port, secure=secure),
            db_name=(conn.schema or extra.get("db_name") or "default").strip(),
            user=user,
            password=password,
            token=token,
            secure=secure or host.lower().startswith("https://"),
            server_pem_path=extra.get("server_pem_path") or None,
            server_name=extra.get("server_name") or None,
            timeout=timeout if timeout is not None else extra.get("timeout"),
        )

    @property
    def is_local_file(self) -> bool:
        """A Milvus Lite database file (``*.db``), opened in-process by pymilvus."""
        return self.uri.endswith(".db") and "://" not in self.uri

    @property
    def host_port(self) -> tuple[str, int] | None:
        """Network address of the server, or ``None`` for a Milvus Lite file or unix socket."""
        if self.is_local_file or self.uri.startswith("unix:"):
            return None
        parts = urlsplit(self.uri)
        if not parts.hostname:
            return None
        default = 443 if parts.scheme == "https" else DEFAULT_PORT
        return parts.hostname, parts.port or default

    def describe(self) -> str:
        """Where this points, safe for logs (no secrets)."""
        who = "token" if self.token else (f"user '{self.user}'" if self.user else "no auth")
        return f"{self.uri} (database '{self.db_name}', {who}, tls={'on' if self.secure else 'off'})"

    def client_kwargs(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Keyword arguments for ``MilvusClient`` / ``AsyncMilvusClient``. Contains secrets:
        never log or return this from a task."""
        kwargs: dict[str, Any] = {"uri": self.uri, "timeout": timeout or self.timeout}
        if not self.is_local_file:
            kwargs["db_name"] = self.db_name
        if self.token is not None:
            kwargs["token"] = self.token.get_secret_value()
        elif self.user:
            kwargs["token"] = f"{self.user}:{self.password.get_secret_value() if self.password else ''}"
        if self.secure and not self.uri.startswith("https://"):
            kwargs["secure"] = True
        if self.server_pem_path:
            kwargs["server_pem_path"] = self.server_pem_path
        if self.server_name:
            kwargs["server_name"] = self.server_name
        return kwargs

    def redact(self, text: str) -> str:
        """``text`` with every secret of this connection replaced by ``***`` (longest first)."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def secrets(self) -> list[str]:
        """The secret values, for registration with Airflow's log masker."""
        values = [s.get_secret_value() for s in (self.password, self.token) if s is not None]
        if self.user and self.password is not None:
            values.append(f"{self.user}:{self.password.get_secret_value()}")
        # The forms a secret takes inside a URI (percent-encoded), as it may have been typed.
        values += [quote(v, safe="") for v in list(values)]
        return list(dict.fromkeys(v for v in values if v))


def _safe_errors(exc: ValidationError) -> str:
    """A pydantic validation error as text, without the input values it refused."""
    lines = [
        f"{'.'.join(str(part) for part in err.get('loc', ())) or 'value'}: {err.get('msg', 'invalid')}"
        for err in exc.errors(include_input=False, include_url=False, include_context=False)
    ]
    return f"invalid Milvus connection settings: {'; '.join(lines)}"


def split_userinfo(host: str) -> tuple[str | None, str | None]:
    """The user and password in a URI's userinfo (``http://user:pass@host``), decoded, or
    ``(None, None)``."""
    if "://" not in host:
        return None, None
    netloc = urlsplit(host).netloc
    if "@" not in netloc:
        return None, None
    userinfo = netloc.rpartition("@")[0]
    user, sep, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if sep else None)


def _strip_userinfo(host: str) -> str:
    parts = urlsplit(host)
    if "@" not in parts.netloc:
        return host
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def build_uri(host: str, port: int | None, *, secure: bool = False) -> str:
    """Turn the connection's host (a full URI, a hostname or a ``.db`` path) into a URI.

    Never returns credentials: userinfo (``http://user:pass@host``) is removed (read it
    with :func:`split_userinfo`; :meth:`MilvusConnectionConfig.from_connection` moves it into
    the credentials)."""
    if host.endswith(".db") and "://" not in host:
        return host  # Milvus Lite file
    if "://" in host:
        host = _strip_userinfo(host)
        parts = urlsplit(host)
        if port and parts.port is None and parts.scheme in ("http", "https", "tcp", "grpc"):
            return f"{parts.scheme}://{parts.hostname}:{port}{parts.path}"
        return host
    scheme = "https" if secure else "http"
    return f"{scheme}://{host}:{port or DEFAULT_PORT}"
