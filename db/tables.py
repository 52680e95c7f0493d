"""Tables. Singular PascalCase names, snake_case columns; what must never happen twice is a constraint."""

from piccolo.columns import Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Area(Table):
    """A town or district inside the region that hosts programs (地域・市町)."""

    slug = Varchar(length=64, unique=True, required=True)
    name = Varchar(length=100, required=True)
    description = Text(default="")
    image_url = Varchar(length=500, default="")
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class PortalBlock(Table):
    """An editable block of the public portal: the hero message or a link card."""

    kind = Varchar(length=16, required=True)  # "hero" | "link"
    key = Varchar(length=64, unique=True, required=True)
    title = Varchar(length=200, required=True)
    body = Text(default="")
    url = Varchar(length=500, default="")
    icon = Varchar(length=32, default="")
    position = Integer(default=0)
    active = Boolean(default=True)
    updated_at = Timestamptz(default=TimestamptzNow())
