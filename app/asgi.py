"""ASGI entry point for servers (`uvicorn app.asgi:app`): the only place create_app meets the environment."""

import gc

from app.main import create_app
from app.settings import Settings


def settle_heap() -> None:
    """Set what the server made to start (the app, its routes, the catalogues and libraries, some 200,000
    objects) aside from Python's cycle collector, as a server process's last step of starting.

    Every full collection walked all of it again: about 0.1 s with the process standing still, every few
    thousand requests, which is the slow tail of a festival day's scans (issue #17, p99 against p50). None of
    it is garbage: it lives as long as the process. Only a server process does this: the tests make app after
    app in one process, and what they froze would never be freed."""
    gc.collect()
    gc.freeze()


app = create_app(Settings.from_env())
app.on_startup.append(settle_heap)
