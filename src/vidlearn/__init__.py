"""vidlearn: deep-learning video analysis, from a folder of videos to a model, a report and predictions."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
