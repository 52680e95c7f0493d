"""One refusal base and one form-invalid base for every domain."""

from app.i18n import current_locale
from app.services.desk.common import InquiryRefused
from app.services.membership.passkeys import PasskeyError
from app.services.programs.applications import ApplicationRefused
from app.services.programs.programs import ProgramInvalid
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.signed_tokens import TokenError
from app.services.shared.uploads import UploadRefused
from app.services.wallet.redemption import Refused


def test_every_domain_refusal_is_a_refusal_with_a_stable_reason():
    for refused in (InquiryRefused("closed"), PasskeyError("unknown_credential"), Refused("used"), TokenError("expired"),
                    ApplicationRefused("full", field="answers")):
        assert isinstance(refused, Refusal) and refused.reason == str(refused)
    assert ApplicationRefused("full", field="answers").field == "answers"


def test_a_token_error_is_still_a_value_error():
    assert isinstance(TokenError("forged"), ValueError)


def test_a_refusal_words_its_reason_in_the_persons_language_and_has_a_fallback():
    token = current_locale.set("ja")
    try:
        assert "JPEG" in UploadRefused("not_image").message
        assert UploadRefused("no_such_reason").message == UploadRefused("default").message
        assert Refused("used").message  # a domain that words its codes on the page still has a general message
    finally:
        current_locale.reset(token)


def test_a_form_invalid_keeps_the_messages_and_the_values_as_typed():
    invalid = ProgramInvalid({"title": "タイトルを入力してください。"}, {"title": ""})
    assert isinstance(invalid, FormInvalid)
    assert invalid.errors == {"title": "タイトルを入力してください。"} and invalid.values == {"title": ""}
