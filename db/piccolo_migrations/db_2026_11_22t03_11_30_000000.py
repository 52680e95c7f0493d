"""Unique indexes for surveys and the yearly targets and report."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-11-22T03:11:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (survey, account) on invitations and responses; one target / report section per year"
INDEXES = {
    "survey_invitation_survey_account": "survey_invitation (survey, account)",
    "survey_response_survey_account": "survey_response (survey, account)",
    "kpi_target_year_metric_area": "kpi_target (fiscal_year, metric, area_id)",
    "report_section_year_key": "report_section (fiscal_year, key)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
