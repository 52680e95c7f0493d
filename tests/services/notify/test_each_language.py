"""One notification per language its readers chose: the one mechanism behind survey invitations and program
announcements."""

from __future__ import annotations

from app.i18n import gettext as _
from app.i18n import in_locale
from app.services.membership import membership
from app.services.notify import push_notifications
from app.services.notify.push_notifications import Target
from db.tables import Account, Notification
from tests import factories


async def write() -> tuple[str, str]:
    return _("Search"), ""


async def test_readers_are_grouped_by_the_language_they_chose_and_the_screens_for_the_others():
    english, japanese, never_chose = [await factories.member(name) for name in ("Emma", "はなこ", "ゆき")]
    await membership.remember_locale(english.account_id, "en")
    await Account.update({Account.locale: ""}).where(Account.id == never_chose.account_id)
    with in_locale("ja"):
        groups = await push_notifications.languages_of([never_chose.account_id, english.account_id, japanese.account_id,
                                                        english.account_id, 999999])
    assert groups == {"en": [english.account_id], "ja": sorted([japanese.account_id, never_chose.account_id])}
    assert await push_notifications.languages_of([]) == {}


async def test_each_language_gets_its_own_notification_and_nobody_gets_none_unless_kept():
    english, japanese = [await factories.member(name) for name in ("Emma", "はなこ")]
    await membership.remember_locale(english.account_id, "en")
    await membership.remember_locale(japanese.account_id, "ja")
    made = await push_notifications.notify_in_each_language(Target(topic="news"), [japanese.account_id, english.account_id],
                                                            write, "/", None)
    rows = await Notification.select(Notification.id, Notification.title, Notification.target).order_by(
        Notification.id).output(load_json=True)
    assert [row["id"] for row in rows] == made
    assert [(row["title"], row["target"]["accounts"]) for row in rows] == [
        ("Search", [english.account_id]), ("検索", [japanese.account_id])]
    assert await push_notifications.notify_in_each_language(Target(), [], write, "/", None) == []
    with in_locale("en"):
        kept = await push_notifications.notify_in_each_language(Target(), [], write, "/", None, keep_empty=True)
    assert len(kept) == 1 and (await Notification.select(Notification.title).where(Notification.id == kept[0]).first())[
        "title"] == "Search"
