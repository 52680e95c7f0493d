"""The one Actor: who may manage which area."""

from types import SimpleNamespace

from app.services.shared.actor import Actor


def test_staff_manage_every_area():
    assert Actor(1, "staff").may_manage(7) and Actor(1, "staff").may_manage(None)


def test_an_editor_manages_only_their_own_area():
    editor = Actor(2, "editor", 7)
    assert editor.may_manage(7)
    assert not editor.may_manage(8)
    assert not editor.may_manage(None)


def test_an_editor_without_an_area_manages_none():
    assert not Actor(2, "editor", None).may_manage(None)


def test_members_and_shops_manage_no_area():
    assert not Actor(3, "member", 7).may_manage(7)
    assert not Actor(4, "shop", 7).may_manage(7)


def test_an_actor_is_made_from_an_account_and_only_an_editor_keeps_an_area():
    assert Actor.of(SimpleNamespace(id=5, role="editor", area_id=7)) == Actor(5, "editor", 7)
    assert Actor.of(SimpleNamespace(id=6, role="staff", area_id=7)) == Actor(6, "staff", None)


def test_only_an_editor_can_be_outside_an_area():
    assert Actor(2, "editor", 7).outside_area(8) and not Actor(2, "editor", 7).outside_area(7)
    assert not Actor(1, "staff").outside_area(8)
    assert not Actor(3, "member").outside_area(8)  # the workflow refuses a member for its own reasons
