"""ASGI entry point for servers (`uvicorn app.asgi:app`): the only place create_app meets the environment."""

from app.main import create_app
from app.settings import Settings

app = create_app(Settings.from_env())
