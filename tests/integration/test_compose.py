"""docker-compose.yaml, validated offline by a real compose implementation.

No Docker engine runs here, so nothing is started: Debian's docker-compose v1.29 (installed by
`make test` through `make system-deps`) parses and interpolates the file exactly as it would
for `docker compose up`, with `.env.example` copied to a temporary `.env`. The tests then
assert the wiring on the resolved configuration, and that no secret lives in the file itself.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"

AIRFLOW = [
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]
SERVICES = {"postgres", "redis", "etcd", "minio", "milvus", "attu", *AIRFLOW}
SECRET_VARS = {
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "MILVUS_ROOT_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
}


def docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: run `make system-deps` (part of `make test`)")
    return exe


def compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    # Only the given env file: a developer's real .env in the repository is never read.
    return subprocess.run(
        [docker_compose(), "-f", str(COMPOSE), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env_file.parent,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},  # no AIRFLOW_*/secret leaks from the caller
    )


def env_with_fresh_secrets(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """.env.example copied to a temporary .env, every secret replaced by a random one."""
    values = {name: "s" + secrets.token_hex(12) for name in SECRET_VARS}
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    return env_file, values


@pytest.fixture
def resolved(tmp_path) -> tuple[dict, dict[str, str]]:
    env_file, values = env_with_fresh_secrets(tmp_path)
    quiet = compose(env_file, "config", "-q")
    assert quiet.returncode == 0, quiet.stderr
    full = compose(env_file, "config")
    assert full.returncode == 0, full.stderr
    return yaml.safe_load(full.stdout), values


def test_example_env_validates_as_is(tmp_path):
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    result = compose(tmp_path / ".env", "config", "-q")
    assert result.returncode == 0, result.stderr


def test_services_images_and_build(resolved):
    config, _ = resolved
    services = config["services"]
    assert set(services) == SERVICES
    assert re.fullmatch(r"milvusdb/milvus:v2\.6\.\d+", services["milvus"]["image"])
    assert services["milvus"]["command"] == ["milvus", "run", "standalone"]
    assert services["etcd"]["image"].startswith("quay.io/coreos/etcd:v3.5.")
    assert services["minio"]["image"].startswith("minio/minio:RELEASE.")
    assert services["attu"]["image"].startswith("zilliz/attu:v2.6")
    assert services["attu"]["profiles"] == ["attu"], "Attu only with --profile attu"
    for name in ["postgres", "redis"]:
        assert "image" in services[name]
    for name in AIRFLOW:
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
        assert Path(services[name]["build"]["context"]) == REPO
    assert [services[n]["command"] for n in AIRFLOW[1:]] == [
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "celery worker",
    ]

    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}", dockerfile, re.M)
    assert re.search(r"^ARG AIRFLOW_VERSION=3\.3\.\d+$", dockerfile, re.M)
    assert "download.pytorch.org/whl/cpu" in dockerfile, "CPU torch, not the CUDA build"
    assert "-r /tmp/requirements-image.txt" in dockerfile and "-e /opt/milvus-toolkit/plugins" in dockerfile


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(resolved):
    services = resolved[0]["services"]
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"

    def conditions(name):
        return {dep: spec["condition"] for dep, spec in services[name].get("depends_on", {}).items()}

    assert conditions("milvus") == {"etcd": "service_healthy", "minio": "service_healthy"}
    assert conditions("attu") == {"milvus": "service_healthy"}
    assert conditions("airflow-init") == {"postgres": "service_healthy", "redis": "service_healthy"}
    for name in AIRFLOW[1:]:
        deps = conditions(name)
        assert deps["postgres"] == deps["redis"] == "service_healthy", name
        assert deps["airflow-init"] == "service_completed_successfully", name
    assert conditions("airflow-worker")["milvus"] == "service_healthy"
    assert conditions("airflow-worker")["airflow-apiserver"] == "service_healthy"
    # The Celery worker's health is a real ping through the broker.
    assert "inspect ping" in " ".join(services["airflow-worker"]["healthcheck"]["test"])


def test_airflow_runs_celery_on_postgres_and_redis_with_milvus_wired_by_env(resolved):
    services, values = resolved[0]["services"], resolved[1]
    for name in AIRFLOW:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg2://airflow:{values['POSTGRES_PASSWORD']}@postgres:5432/airflow"
        )
        assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{values['REDIS_PASSWORD']}@redis:6379/0"
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == (
            f"db+postgresql+psycopg2://airflow:{values['POSTGRES_PASSWORD']}@postgres:5432/airflow"
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CORE__FERNET_KEY"] == values["AIRFLOW_FERNET_KEY"]
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == values["AIRFLOW_JWT_SECRET"]
        assert env["MILVUS_TOOLKIT_STAGING"] == "/opt/airflow/staging"
        conn = json.loads(env["AIRFLOW_CONN_MILVUS_DEFAULT"])
        assert conn == {
            "conn_type": "milvus",
            "host": "milvus",
            "port": 19530,
            "login": "root",
            "password": values["MILVUS_ROOT_PASSWORD"],
            "schema": "default",
            "extra": {"secure": False, "timeout": 60},
        }
        mounts = {v.split(":")[0]: v.split(":")[1] for v in services[name]["volumes"]}
        assert mounts["airflow-staging"] == "/opt/airflow/staging", "staging shared by all workers"
    assert services["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"] == values["AIRFLOW_ADMIN_PASSWORD"]
    assert "airflow db migrate" in services["airflow-init"]["command"][-1]

    milvus = services["milvus"]["environment"]
    assert milvus["ETCD_ENDPOINTS"] == "etcd:2379" and milvus["MINIO_ADDRESS"] == "minio:9000"
    assert milvus["COMMON_SECURITY_AUTHORIZATION_ENABLED"] == "true"
    assert milvus["COMMON_SECURITY_DEFAULT_ROOT_PASSWORD"] == values["MILVUS_ROOT_PASSWORD"]
    assert milvus["MINIO_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == values["POSTGRES_PASSWORD"]


def test_worker_scales_and_ports_are_loopback_only(resolved):
    services = resolved[0]["services"]
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker, "--scale airflow-worker=N needs both absent"
    assert not any("container_name" in s for s in services.values())
    published = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            text = (
                port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}:{port.get('target')}"
            )
            assert text.startswith("127.0.0.1:"), f"{name} publishes {text} beyond loopback"
            published[name] = text
    assert set(published) >= {"airflow-apiserver", "milvus", "attu"}
    for name in ["postgres", "redis", "etcd"]:
        assert "ports" not in services[name], f"{name} stays on the private network"


def test_data_lives_in_named_volumes(resolved):
    config = resolved[0]
    declared = set(config["volumes"])
    for name, service in config["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            assert source in declared, f"{name} mounts {source!r}, not a named volume"
    for name, target in [
        ("postgres", "/var/lib/postgresql/data"),
        ("milvus", "/var/lib/milvus"),
        ("etcd", "/etcd"),
        ("minio", "/minio_data"),
    ]:
        assert any(v.split(":")[1] == target for v in config["services"][name]["volumes"]), name


def test_no_secret_inline_and_a_missing_secret_refuses_to_start(tmp_path):
    raw = COMPOSE.read_text()
    document = yaml.safe_load(raw)
    # Every value naming a password/secret/key is a ${VAR:?...} substitution, never a literal.
    pattern = re.compile(r"PASSWORD|SECRET|FERNET|_KEY\b|ACCESS_KEY")
    for name, service in {**document["services"], "x-airflow-common": document["x-airflow-common"]}.items():
        for key, value in (service.get("environment") or {}).items():
            if pattern.search(key) and key != "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*|:-)?\}", str(value)), f"{name}.{key} = {value!r}"
    conn = document["x-airflow-common"]["environment"]["AIRFLOW_CONN_MILVUS_DEFAULT"]
    assert '"password": "${MILVUS_ROOT_PASSWORD:?' in conn
    for line in ENV_EXAMPLE.read_text().splitlines():
        name, _, value = line.partition("=")
        if name in SECRET_VARS:
            assert value not in raw, f"the example value of {name} is written into the compose file"
    code = "\n".join(line for line in raw.splitlines() if not line.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{([A-Z_]+):\?", code))
    assert required == SECRET_VARS
    example_names = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required <= example_names, ".env.example lists every required secret"

    for missing in ["MILVUS_ROOT_PASSWORD", "REDIS_PASSWORD"]:
        env_file, _ = env_with_fresh_secrets(tmp_path)
        env_file.write_text(
            "".join(line + "\n" for line in env_file.read_text().splitlines() if not line.startswith(missing + "="))
        )
        result = compose(env_file, "config", "-q")
        assert result.returncode != 0 and f"set {missing} in .env" in result.stderr, result.stderr

    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO)
    assert ignored.returncode == 0, ".env must be git-ignored"
    example = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=REPO)
    assert example.returncode == 1, ".env.example is meant to be committed"
    dockerignore = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore and ".venv" in dockerignore and ".local" in dockerignore
