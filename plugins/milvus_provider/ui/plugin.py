"""The Airflow plugin of the provider (entry point ``airflow.plugins``): the Milvus view's
FastAPI app under ``/milvus``, a "Milvus" item in the navigation, and a "Milvus report" tab on
every DAG run (a run whose tasks name no report files says so)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/milvus"


class LazyApp:
    """The ASGI app mounted by the api-server. The FastAPI app is built on the first request, so
    loading the plugin (every Airflow process does) imports nothing of the api-server."""

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from milvus_provider.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class MilvusViewPlugin(AirflowPlugin):
    name = "milvus_view"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Milvus view"}]
    external_views = [
        {
            "name": "Milvus",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "milvus",
            "nav_top_level": True,
        },
        {
            "name": "Milvus report",
            "href": URL_PREFIX + "/runs/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "milvus-report",
        },
    ]
