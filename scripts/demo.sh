#!/usr/bin/env bash
# The main job on the embedded default: the local Milvus (auth on), SQLite Airflow, the
# local embedding model and the sample corpus. Expects scripts/dev-env.sh to be sourced.
set -euo pipefail
log="$AIRFLOW_HOME/demo-last-run.log"
echo "Running milvus_ingest on the sample corpus (log: $log) ..."
# The sample corpus and the collection are passed explicitly: no run acts on defaults.
conf="{\"source\": \"$MILVUS_TOOLKIT_HOME/include/sample_corpus\", \"collection\": \"documents\"}"
if ! airflow dags test milvus_ingest -c "$conf" >"$log" 2>&1; then
    grep -E "ERROR|Error|error" "$log" | tail -20
    echo "milvus_ingest FAILED: see $log" >&2
    exit 1
fi
# The report task logs its summary one line per record (logger milvus_toolkit.report): show
# those lines without the log prefix and suffix, then a live check through the hook.
sed -n 's/^.*\[info *\] \(.*\) \[milvus_toolkit\.report\].*$/\1/p' "$log"
python - <<'PY'
from milvus_provider.hooks.milvus import MilvusHook
hook = MilvusHook()
ok, message = hook.test_connection()
print(("  milvus   : " if ok else "  milvus FAILED: ") + message)
print(f"  in Milvus: {hook.count('documents')} rows in collection 'documents' (Strong count)")
PY
