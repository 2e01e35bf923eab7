#!/usr/bin/env bash
# The main job on the embedded default: the local Milvus (auth on), SQLite Airflow, the
# local embedding model and the sample corpus. Expects scripts/dev-env.sh to be sourced.
set -euo pipefail
log="$AIRFLOW_HOME/demo-last-run.log"
echo "Running milvus_ingest on the sample corpus (log: $log) ..."
if ! airflow dags test milvus_ingest -c '{"collection": "documents"}' >"$log" 2>&1; then
    grep -E "ERROR|Error|error" "$log" | tail -20
    echo "milvus_ingest FAILED: see $log" >&2
    exit 1
fi
# The report task prints its summary into the log; show it, then a live check through the hook.
awk '/^Ingest into /{show=1} show && /^  total/{print; show=0} show' "$log"
python - <<'PY'
from milvus_provider.hooks.milvus import MilvusHook
hook = MilvusHook()
ok, message = hook.test_connection()
print(("  milvus   : " if ok else "  milvus FAILED: ") + message)
print(f"  in Milvus: {hook.count('documents')} rows in collection 'documents' (Strong count)")
PY
