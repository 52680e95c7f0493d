"""What the app writes to a member because of someone else's action is in the language that member chose."""

from __future__ import annotations

from datetime import timedelta

from app.i18n import in_locale
from app.services.membership import membership
from app.services.notify import push_notifications
from app.services.programs import applications
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.surveys import invitations
from app.settings import Smtp
from db.tables import Account, Application, Notice, Notification, OutboxMail
from tests import factories


async def set_language(account_id: int, locale: str) -> None:
    await membership.remember_locale(account_id, locale)


async def test_a_choice_of_language_is_remembered_and_a_made_up_one_is_not():
    member = await factories.member("つなぐ花子")
    await set_language(member.account_id, "en")
    await set_language(member.account_id, "xx")
    assert (await Account.select(Account.locale).where(Account.id == member.account_id).first())["locale"] == "en"


async def test_an_organisers_decision_reaches_each_member_in_their_language(scene):
    program = await factories.program(scene.area, title="樽前山の森歩き", capacity=5)
    english, japanese = await factories.member("Emma"), await factories.member("はなこ")
    await set_language(english.account_id, "en")
    for person in (english, japanese):
        await applications.apply(program, person.member_id, "", [], clock.now())
    with in_locale("ja"):  # the organiser's screen is in Japanese
        for person in (english, japanese):
            application = await Application.select(Application.id).where(Application.member == person.member_id).first()
            await applications.decide(application["id"], Actor(scene.staff.account_id, "staff"), "reject", clock.now())
    told = {row["target"]["accounts"][0]: row["title"] for row in await Notification.select(
        Notification.title, Notification.target).where(Notification.topic == "personal").output(load_json=True)}
    assert told[english.account_id].startswith("We cannot offer you a place this time")
    assert told[japanese.account_id].startswith("今回は参加いただけません")


async def test_a_survey_invitation_is_mailed_and_announced_in_each_recipients_language(scene):
    english = await factories.member("Emma", email="emma@example.jp", verified=True)
    japanese = await factories.member("はなこ", email="hanako@example.jp", verified=True)
    await set_language(english.account_id, "en")
    now = clock.now()
    await factories.open_survey([{"kind": "short", "text": "ひとこと"}], [], title="暮らしのアンケート",
                                invited_at=None, opens_at=now - timedelta(minutes=1))
    with in_locale("ja"):
        await invitations.dispatch_due(Smtp(mail_from="no-reply@example.jp"), now, base_url="https://tsunagu.example.jp",
                                       site_name="つながる")
    mails = {row["to_address"]: row["subject"] for row in await OutboxMail.select(OutboxMail.to_address, OutboxMail.subject)}
    assert mails["emma@example.jp"].startswith("[つながる] Please answer the survey")
    assert "アンケート" in mails["hanako@example.jp"] and "Please answer" not in mails["hanako@example.jp"]
    notifications = await Notification.select(Notification.title, Notification.target).where(
        Notification.topic == "surveys").output(load_json=True)
    assert len(notifications) == 2
    by_account = {row["target"]["accounts"][0]: row["title"] for row in notifications}
    assert by_account[english.account_id] != by_account[japanese.account_id]


async def test_a_new_program_is_announced_to_each_follower_in_their_language(scene):
    english, japanese, never_chose = [await factories.member(name, area_ids=[scene.area]) for name in ("Emma", "はなこ", "ゆき")]
    await set_language(english.account_id, "en")
    await set_language(japanese.account_id, "ja")
    await Account.update({Account.locale: ""}).where(Account.id == never_chose.account_id)
    program = await factories.program(scene.area, title="樽前山の森歩き", summary="森を歩きます。")
    with in_locale("en"):  # the approver's screen is in English; the site's language is Japanese
        assert await push_notifications.announce_program(program, scene.staff.account_id, "ja") is True
    await push_notifications.fan_out_due()
    read = {row["account"]: (row["title"], row["body"]) for row in await Notice.select(Notice.account, Notice.title, Notice.body)}
    assert read[english.account_id] == ("New program: 樽前山の森歩き", "森を歩きます。")
    assert read[japanese.account_id] == read[never_chose.account_id] == ("新しいプログラム：樽前山の森歩き", "森を歩きます。")
    assert await Notification.count() == 2
    assert await push_notifications.announce_program(program, scene.staff.account_id, "ja") is False  # once per program
