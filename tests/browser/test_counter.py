"""The shop counter in a real Chromium: the device's rules (app/static/js/counter_rules.js) decide every case of
tests/cases/counter_rules.json as the server does, with Ed25519 verified by Web Crypto."""

from __future__ import annotations

from playwright.sync_api import Page

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from tests.cases.counter_rules import case_id, device_bundle, device_input, expected_on_device, load_cases

DECIDE_ALL = """async (cases) => {
  const answers = {};
  for (const c of cases) {
    const answer = await self.Tsunagu.counterRules.decide(c.input, c.bundle);
    answers[c.id] = { decision: answer.decision, reason: answer.reason || '' };
  }
  return answers;
}"""


def load_rules(page: Page) -> None:
    """A page of the app's origin (a secure context, for Web Crypto) with the rules module and nothing else."""
    page.goto("/healthz")
    page.add_script_tag(url="/static/js/counter_rules.js")


def test_the_device_decides_every_case_of_the_counter_table_as_the_table_says(page):
    signer = TokenSigner(new_signing_key())
    cases = load_cases()
    load_rules(page)
    assert page.evaluate("() => typeof self.Tsunagu.counterRules.decide") == "function"
    answers = page.evaluate(DECIDE_ALL, [
        {"id": case_id(case), "input": device_input(case, signer), "bundle": device_bundle(case, signer)} for case in cases
    ])
    expected = {case_id(case): expected_on_device(case) for case in cases}
    assert answers == expected


def test_the_device_refuses_a_genuine_token_when_one_byte_of_its_signature_changes(page):
    signer = TokenSigner(new_signing_key())
    case = load_cases()[0]
    token = device_input(case, signer)["text"]
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    load_rules(page)
    answer = page.evaluate(DECIDE_ALL, [{"id": "t", "input": {**device_input(case, signer), "text": tampered},
                                         "bundle": device_bundle(case, signer)}])
    assert answer["t"] == {"decision": "refused", "reason": "forged"}
