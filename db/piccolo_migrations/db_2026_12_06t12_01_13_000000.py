"""A mail of the desk's mailbox is read once: unique per place (mailbox, UIDVALIDITY, UID), beside the unique
Message-ID, however many rounds fetch it at once."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T12:01:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique place of a desk mail"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "desk_mail_place": "desk_mail (mailbox, uidvalidity, uid)",
    })
