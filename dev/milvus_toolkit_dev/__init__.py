"""Developer tools of the toolkit, kept out of the runtime package ``milvus_toolkit``.

- ``milvus_toolkit_dev.local_milvus``: the local Milvus server (``make milvus-up``);
- ``milvus_toolkit_dev.local_airflow``: a local Airflow stack (``make airflow-up``);
- ``milvus_toolkit_dev.processes``: the process and port helpers the local servers share;
- ``milvus_toolkit_dev.sample_corpus``: how the sample corpus in ``include/sample_corpus``
  was made (``make_pdf.py``).

Installed editable into the development venv only (``dev/pyproject.toml``, ``make venv``);
the worker image (``Dockerfile``) never copies or installs it. These tools may find the
repository from their own location; the runtime package never does.
"""
