"""The Milvus view: an Airflow UI plugin of this provider (see docs/ui.md and ``contract``)."""
