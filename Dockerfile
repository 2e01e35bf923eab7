# Airflow image for docker-compose.yaml: apache/airflow 3.3.2 plus the toolkit's pinned
# requirements, the Milvus provider (plugins/) and the pipeline package (include/).
#
#   docker compose build            (or: docker build -t milvus-toolkit-airflow:3.3.2 .)
#
# Not built in this repository's CI: the machines it runs on have no Docker engine. The
# compose file that uses it is validated offline (tests/integration/test_compose.py).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
# torch goes first and alone, from PyTorch's CPU index: a plain `pip install torch` from
# PyPI pulls several GB of CUDA libraries that a CPU worker never uses. The later
# `torch==2.13.0` pin in requirements.txt is then already satisfied by 2.13.0+cpu.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

USER airflow
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

# Dependencies first (a layer that changes only when the pins change). apache-airflow is
# named explicitly so pip never swaps the image's Airflow for another version. The package
# `milvus` (a whole local Milvus server, ~0.5 GB) is for development machines only: in the
# stack, Milvus is its own container.
COPY --chown=airflow:0 requirements.txt requirements.lock /opt/milvus-toolkit/
RUN cd /opt/milvus-toolkit \
    && grep -v -E '^(torch|milvus)==' requirements.txt > /tmp/requirements-image.txt \
    && grep -v -E '^(torch|milvus)==' requirements.lock > /tmp/constraints-image.txt \
    && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /tmp/requirements-image.txt -c /tmp/constraints-image.txt \
    && rm /tmp/requirements-image.txt /tmp/constraints-image.txt \
    && pip install --no-cache-dir --no-deps "llama-index-vector-stores-milvus==1.2.0"
# (--no-deps: it declares pymilvus<3 but works on our pinned 3.0.2; see the Makefile)

# The code, in the repository's layout (the package finds its sample corpus relative to it),
# installed editable so that /opt/milvus-toolkit stays the one place the code lives. The
# developer tools (dev/, package milvus_toolkit_dev) are never copied (.dockerignore).
COPY --chown=airflow:0 pyproject.toml /opt/milvus-toolkit/
COPY --chown=airflow:0 include /opt/milvus-toolkit/include
COPY --chown=airflow:0 plugins /opt/milvus-toolkit/plugins
COPY --chown=airflow:0 dags /opt/milvus-toolkit/dags
RUN pip install --no-cache-dir --no-deps -e /opt/milvus-toolkit -e /opt/milvus-toolkit/plugins

# Mount points of the named volumes: created here with the airflow user as owner (group 0,
# group-writable for another AIRFLOW_UID), so fresh volumes inherit that ownership.
USER root
RUN mkdir -p /opt/airflow/staging /opt/airflow/auth /opt/airflow/logs \
    && chown -R airflow:0 /opt/airflow/staging /opt/airflow/auth /opt/airflow/logs \
    && chmod -R g+rwX /opt/airflow/staging /opt/airflow/auth /opt/airflow/logs
USER airflow

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/milvus-toolkit/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/milvus-toolkit/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=false \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false
