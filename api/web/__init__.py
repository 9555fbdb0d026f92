"""The web interface under /ui: Danish pages for coordinators, consultants and planners.

Pages call the use cases of `api.services` and translate their domain errors into Danish;
`labels.py` holds every Danish name of a code."""

from fastapi import FastAPI

from api.web import (
    approvals,
    auth,
    cases,
    consultants,
    coordinators,
    decisions,
    network,
    optionview,
    planners,
    recommendation,
    worklist,
)
from api.web import keyfigures as keyfigures_pages
from api.web import whatif as whatif_pages
from api.web.common import PageError, SignInRequired, install_errors

__all__ = ["PageError", "SignInRequired", "install"]


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their error pages on the app."""
    # cases before coordinators: /ui/children/new is not a child's id.
    for module in (auth, cases, coordinators, decisions, consultants, planners):
        app.include_router(module.router)
    app.include_router(approvals.router)
    app.include_router(optionview.router)
    app.include_router(worklist.router)
    app.include_router(recommendation.router)
    app.include_router(network.router)
    app.include_router(whatif_pages.router)
    app.include_router(keyfigures_pages.router)
    install_errors(app)
