"""Piccolo's entry point for its CLI (`piccolo migrations forwards all`): engine from DATABASE_URL."""

from piccolo.conf.apps import AppRegistry

from app.settings import Settings
from db.engine import make_engine

DB = make_engine(Settings.from_env().database_url)

APP_REGISTRY = AppRegistry(apps=["db.piccolo_app"])
