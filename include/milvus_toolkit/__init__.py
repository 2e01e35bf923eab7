"""Airflow toolkit for Milvus: the logic behind the DAGs, importable without Airflow."""
