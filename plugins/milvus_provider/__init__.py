"""Apache Airflow provider for Milvus."""

from __future__ import annotations

__version__ = "0.3.0"

CONNECTION_TYPE = "milvus"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's ProvidersManager (entry point
    ``apache_airflow_provider``).

    Since Airflow 3.2 the connection form is rendered from ``conn-fields`` and
    ``ui-field-behaviour`` declared here, not from widgets on the hook class.
    """
    return {
        "package-name": "airflow-provider-milvus",
        "name": "Milvus",
        "description": "Milvus vector database: a hook with sync and async clients, operators to "
        "create, fill, search and drop collections and point aliases, and a deferrable sensor.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Milvus",
                "external-doc-url": "https://milvus.io/docs",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "Milvus",
                "python-modules": ["milvus_provider.operators.milvus"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Milvus",
                "python-modules": ["milvus_provider.sensors.milvus"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Milvus",
                "python-modules": ["milvus_provider.hooks.milvus"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Milvus",
                "python-modules": ["milvus_provider.triggers.milvus"],
            }
        ],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": "milvus_provider.hooks.milvus.MilvusHook",
                "hook-name": "Milvus",
                "ui-field-behaviour": {
                    "hidden-fields": ["extra"],
                    "relabeling": {
                        "host": "URI",
                        "login": "User",
                        "password": "Password",
                        "schema": "Database",
                    },
                    "placeholders": {
                        "host": "http://127.0.0.1:19530, https://<id>.zillizcloud.com, or /path/to/milvus.db",
                        "port": "19530 (only if the URI has no port)",
                        "login": "root (leave empty when using a token)",
                        "password": "password of the user",
                        "schema": "default",
                    },
                },
                "conn-fields": {
                    "token": {
                        "label": "Token / API key",
                        "description": "Zilliz Cloud API key, or 'user:password'. "
                        "Takes precedence over User and Password.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "secure": {
                        "label": "TLS",
                        "description": "Use TLS (https / grpcs). Implied by an https:// URI.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "server_pem_path": {
                        "label": "CA / server certificate file",
                        "description": "Path to a PEM file to verify the server's "
                        "certificate (self-signed or private CA). Optional.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "server_name": {
                        "label": "TLS server name",
                        "description": "Expected server name in the certificate, if it "
                        "differs from the host. Optional.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "Timeout of each request and of the connection handshake.",
                        "schema": {
                            "type": ["integer", "null"],
                            "default": 30,
                            "minimum": 1,
                            "maximum": 3600,
                        },
                    },
                },
            }
        ],
    }
