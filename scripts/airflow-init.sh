#!/usr/bin/env bash
# Create or upgrade the local Airflow metadata database (SQLite). Idempotent.
# Expects scripts/dev-env.sh to be sourced (the Makefile does it).
set -euo pipefail
if [ -f "$AIRFLOW_HOME/airflow.db" ] && airflow db check-migrations -t 0 >/dev/null 2>&1; then
    echo "Airflow metadata database is up to date ($AIRFLOW_HOME/airflow.db)"
else
    airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
    echo "Airflow metadata database ready ($AIRFLOW_HOME/airflow.db)"
fi
