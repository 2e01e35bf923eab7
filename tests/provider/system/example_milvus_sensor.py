"""Example DAG of the Milvus provider: a deferrable sensor waits for rows, then a search runs.

A system test: tests/provider/system/test_example_dags.py starts it with `airflow dags test`,
sees the sensor defer, writes the rows it waits for, and checks that it then completes.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from milvus_provider.operators.milvus import MilvusSearchOperator
from milvus_provider.sensors.milvus import MilvusCollectionSensor

with DAG(
    dag_id="example_milvus_sensor",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "milvus"],
    params={"collection": Param("example_milvus_sensor", type="string")},
) as dag:
    # [START howto_sensor_milvus_collection]
    wait_for_rows = MilvusCollectionSensor(
        task_id="wait_for_rows",
        collection_name="{{ params.collection }}",
        min_row_count=2,
        filter='kind == "feed"',
        poke_interval=1,
        timeout=300,
        deferrable=True,  # the default: waits on the triggerer, not in a worker slot
    )
    # [END howto_sensor_milvus_collection]

    search = MilvusSearchOperator(
        task_id="search",
        collection_name="{{ params.collection }}",
        data=[[1.0, 0.0, 0.0, 0.0]],
        limit=1,
        filter='kind == "feed"',
    )

    wait_for_rows >> search
