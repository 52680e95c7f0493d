"""Every composite unique index (db/unique_indexes.py: SQLite cannot ALTER TABLE … ADD CONSTRAINT)."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T03:09:11:361089"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"

INDEXES = {
    "area_follow_member_area": "area_follow (member, area)",
    "pass_offer_pass_offer": "pass_offer (entry_pass, offer)",
    "wallet_pass_member_pass": "wallet_pass (member, entry_pass)",
    # The exactly-once rule: one row per (wallet pass, offer, limit key, slot).
    "redemption_limit": "redemption (wallet_pass, offer, limit_key, slot)",
    # A retried scan (same nonce from the same account) finds the first answer instead of counting twice.
    "redemption_nonce": "redemption (scanned_by, client_nonce)",
    "application_program_member": "application (program, member)",
    "delivery_notification_subscription": "delivery (notification, subscription)",
    "survey_invitation_survey_account": "survey_invitation (survey, account)",
    "survey_response_survey_account": "survey_response (survey, account)",
    "kpi_target_year_metric_area": "kpi_target (fiscal_year, metric, area_id)",
    "report_section_year_key": "report_section (fiscal_year, key)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
