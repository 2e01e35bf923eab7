# Source me:  source scripts/dev-env.sh
# Puts the project's venv and local Airflow environment into this shell, so that plain
# `airflow dags test milvus_ingest` works against the local Milvus (`make milvus-up`).
# Everything is configured by environment variables; no airflow.cfg needs editing.
_repo="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
if [ ! -x "$_repo/.venv/bin/python" ]; then
    echo "dev-env: no .venv yet; run 'make venv' (or 'make demo') first" >&2
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_repo/.venv/bin/activate"
export MILVUS_TOOLKIT_HOME="$_repo"
export LOCAL_HOME="${LOCAL_HOME:-$_repo/.local}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$LOCAL_HOME/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$_repo/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$_repo/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__TEST_CONNECTION=Enabled
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-INFO}"
# Where mapped ingest tasks stage their batches (run-scoped folders, removed on success).
export MILVUS_TOOLKIT_STAGING="${MILVUS_TOOLKIT_STAGING:-$LOCAL_HOME/staging}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$AIRFLOW_HOME"
# The local Milvus connection (secret from .local/milvus-credentials.json, 0600). Set only
# if the user has not pointed milvus_default elsewhere already.
if [ -z "${AIRFLOW_CONN_MILVUS_DEFAULT:-}" ]; then
    AIRFLOW_CONN_MILVUS_DEFAULT="$(python -m milvus_toolkit_dev.local_milvus conn-uri)"
    export AIRFLOW_CONN_MILVUS_DEFAULT
fi
# The second server, Milvus Lite (`make milvus-lite-up`; 127.0.0.1, no auth, no secret), as
# milvus_lite. Also set only if not set already.
if [ -z "${AIRFLOW_CONN_MILVUS_LITE:-}" ]; then
    AIRFLOW_CONN_MILVUS_LITE="$(python -m milvus_toolkit_dev.local_milvus conn-uri --lite)"
    export AIRFLOW_CONN_MILVUS_LITE
fi
unset _repo
