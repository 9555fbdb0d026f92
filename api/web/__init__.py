"""The web interface under /ui: Danish pages for coordinators, consultants and planners.

Pages call the use cases of `api.services` and translate their domain errors into Danish;
`labels.py` holds every Danish name of a code."""

from fastapi import FastAPI

from api.web import auth, consultants, coordinators, planners
from api.web.common import PageError, SignInRequired, install_errors

__all__ = ["PageError", "SignInRequired", "install"]


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their error pages on the app."""
    for module in (auth, coordinators, consultants, planners):
        app.include_router(module.router)
    install_errors(app)
