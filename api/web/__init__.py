"""The web interface under /ui: Danish pages for coordinators, consultants and planners."""

from api.web.pages import PageError, SignInRequired, install, router

__all__ = ["PageError", "SignInRequired", "install", "router"]
