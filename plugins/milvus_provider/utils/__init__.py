"""Helpers of the Milvus provider that need neither Airflow nor a Milvus connection."""
