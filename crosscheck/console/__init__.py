"""The web console (``crosscheck serve``): county officers, match reviewers, departments.

Server-rendered pages (FastAPI + autoescaped Jinja2 templates, SVG charts, no JavaScript
build, nothing from a CDN) over the same warehouse the pipeline fills. What people do here
reaches the pipeline only through the inputs it already reads: a county decision becomes a
``county_decisions`` file in the landing zone, a review decision a ``match_review`` status,
an upload a file in the source's landing folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # FastAPI is imported only when the console is started
    from crosscheck.console.app import ConsoleConfig

__all__ = ["ConsoleConfig", "create_app"]


def create_app(config: ConsoleConfig):
    """The FastAPI application for ``config`` (see ``crosscheck.console.app``)."""
    from crosscheck.console.app import create_app as _create

    return _create(config)


def __getattr__(name: str):
    if name == "ConsoleConfig":
        from crosscheck.console.app import ConsoleConfig

        return ConsoleConfig
    raise AttributeError(name)
