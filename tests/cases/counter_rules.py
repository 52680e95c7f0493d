"""The counter's case table (counter_rules.json), read once for the server's test and the device's test."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet.counter_bundle import token_rules

TABLE = Path(__file__).with_name("counter_rules.json")
# The ids a case's device-side bundle uses: the pass scanned, this shop's offer, the other shop's offer.
WALLET_PASS_ID, OFFER_ID, OTHER_OFFER_ID = 4242, 17, 99


def load_cases() -> list[dict]:
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    defaults = table["defaults"]
    cases = []
    for case in table["cases"]:
        merged = {**defaults, **case, "offer": {**defaults["offer"], **case.get("offer", {})}}
        merged["now"] = datetime.fromisoformat(merged["now"])
        merged["expires"] = datetime.fromisoformat(merged["expires"])
        merged["earlier_uses"] = [
            {"at": datetime.fromisoformat(use["at"]), "undone": bool(use.get("undone"))} for use in merged["earlier_uses"]
        ]
        merged["stay"] = [date.fromisoformat(d) for d in merged["stay"]] if merged["stay"] else None
        cases.append(merged)
    return cases


def case_id(case: dict) -> str:
    return case["name"].replace(" ", "_")


def code_for(case: dict, signer: TokenSigner, wallet_pass_id: int, short_code: str) -> str:
    """The text the camera (or the person typing) gives for the case's code."""
    kind = case["code"]
    if kind == "short_code":
        return f"{short_code[:4]}-{short_code[4:]}"
    if kind == "card":
        return signer.sign("card", wallet_pass_id, case["expires"])
    if kind == "forged":
        from app.keyfile import new_signing_key

        return TokenSigner(new_signing_key()).sign("wallet", wallet_pass_id, case["expires"])
    token = signer.sign("wallet", wallet_pass_id, case["expires"])
    return token[:40] if kind == "damaged" else token


def device_bundle(case: dict, signer: TokenSigner) -> dict:
    """The counter bundle (counter_bundle.py's shape) a device would hold for the case."""
    offer = case["offer"]
    this_shop = offer["shop"] == "this"
    stay = case["stay"]
    return {
        "bundle_version": 1,
        "generated_at": case["now"].isoformat(),
        "refresh_seconds": 300,
        "shop": {"id": 1, "name": "case shop", "active": True},
        "token": token_rules(signer),
        "offers": [{
            "id": OFFER_ID if this_shop else OFFER_ID + 1, "title": "case offer", "limit_kind": offer["limit_kind"],
            "limit_count": offer["limit_count"], "valid_from": offer["valid_from"], "valid_to": offer["valid_to"],
            "active": offer["active"], "premium_only": offer["premium_only"],
        }],
        "suspended": [WALLET_PASS_ID] if case["pass"] == "suspended" else [],
        "revoked": [WALLET_PASS_ID] if case["pass"] == "revoked" else [],
        "stays": {str(WALLET_PASS_ID): [stay[0].isoformat(), stay[1].isoformat()]} if stay else {},
    }


def device_input(case: dict, signer: TokenSigner) -> dict:
    """What counter_rules.js's decide() is given for the case: the text read, the offer tapped, the time (ms)
    and this device's earlier uses."""
    offer_id = OFFER_ID if case["offer"]["shop"] == "this" else OTHER_OFFER_ID
    return {
        "text": code_for(case, signer, WALLET_PASS_ID, "ABCD2345"),
        "offer_id": offer_id,
        "now": int(case["now"].timestamp() * 1000),
        "uses": [
            {"wallet_pass_id": WALLET_PASS_ID, "offer_id": offer_id, "at": int(use["at"].timestamp() * 1000),
             "undone": use["undone"]}
            for use in case["earlier_uses"]
        ],
    }


def expected_on_device(case: dict) -> dict:
    answer = case.get("device", case)
    return {"decision": answer["decision"], "reason": answer.get("reason", "")}
