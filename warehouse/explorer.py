"""The pivot explorer: a static page served by the cube API at ``/explorer/``.

The page (``explorer_static/``: plain HTML, CSS and JavaScript, no build step) asks for the user's token, lists the
cubes from ``GET /cubes`` and answers every pivot, drill and chart with ``POST /query`` under that token, so the
token's row-level restrictions apply. Charts use the plotly.js bundle shipped inside the plotly Python package,
served from here: nothing is fetched from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from warehouse.errors import WarehouseError

STATIC_DIR = Path(__file__).with_name("explorer_static")
MOUNT_PATH = "/explorer"


def plotly_bundle() -> Path:
    """plotly.min.js of the installed plotly package."""
    try:
        import plotly
    except ImportError:
        raise WarehouseError("the explorer needs the plotly package: pip install plotly") from None
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not bundle.is_file():
        raise WarehouseError(f"the plotly package has no plotly.js bundle at {bundle}; reinstall plotly")
    return bundle


def mount_explorer(app: FastAPI) -> None:
    """Serve the explorer at ``/explorer/`` (its static files and plotly.js) on the API application."""
    bundle = plotly_bundle()

    @app.get(f"{MOUNT_PATH}/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(bundle, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get(MOUNT_PATH, include_in_schema=False)
    def explorer_root() -> RedirectResponse:
        return RedirectResponse(f"{MOUNT_PATH}/")

    app.mount(MOUNT_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="explorer")
