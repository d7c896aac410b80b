"""Deployment: batch prediction over files, folders and streams (`predict`), ONNX export with the
preprocessing in its metadata (`export`), the HTTP service (`serve`, its limits `ServeLimits`; needs the `serve` extra).
Names are imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ExportResult": "vidlearn.deploy.export",
    "ServeLimits": "vidlearn.deploy.serve_limits",
    "build_server": "vidlearn.deploy.serve",
    "create_app": "vidlearn.deploy.serve",
    "export_onnx": "vidlearn.deploy.export",
    "plot_timeline": "vidlearn.deploy.predict",
    "run_predictions": "vidlearn.deploy.predict",
    "serve": "vidlearn.deploy.serve",
    "write_predictions": "vidlearn.deploy.predict",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:  # PEP 562: import the module that defines `name` on first use
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
