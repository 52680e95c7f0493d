import json
import stat

import pytest

from app.settings import RestoreLimits, Settings


def test_secrets_are_generated_once_and_kept_private(tmp_path):
    first = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)})
    second = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key
    assert first.vapid_public_key == second.vapid_public_key
    assert len(first.secret_key) >= 48
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode == 0o600


def test_two_installations_never_share_a_secret(tmp_path):
    a = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path / "a")})
    b = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path / "b")})
    assert a.secret_key != b.secret_key
    assert a.signing_key != b.signing_key


def test_secrets_from_the_environment_win_and_are_not_written(tmp_path):
    settings = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "SECRET_KEY": "from-env-" + "x" * 40})
    assert settings.secret_key.startswith("from-env-")
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert not stored.get("secret_key")


def test_webauthn_settings_derive_from_base_url(tmp_path):
    settings = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "BASE_URL": "https://tsunagu.example.jp/"})
    assert settings.webauthn_rp_id == "tsunagu.example.jp"
    assert settings.webauthn_origins == ("https://tsunagu.example.jp",)
    assert settings.secure_cookies


def test_database_defaults_to_sqlite_under_var(tmp_path):
    settings = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'tsunagu.sqlite3'}"


def test_restore_limits_have_defaults_and_can_be_raised(tmp_path):
    assert Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)}).restore_limits == RestoreLimits(256, 4096)
    raised = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "RESTORE_MAX_ENTRY_MB": "1024",
                                "RESTORE_MAX_TOTAL_MB": "20000"})
    assert raised.restore_limits == RestoreLimits(max_entry_mb=1024, max_total_mb=20000)


def test_push_extra_hosts_are_a_comma_separated_list(tmp_path):
    settings = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path),
                                  "PUSH_EXTRA_HOSTS": " https://push.example.org, http://127.0.0.1:8123 ,,"})
    assert settings.push_extra_hosts == ("https://push.example.org", "http://127.0.0.1:8123")
    assert Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)}).push_extra_hosts == ()


def test_retention_is_three_years_unless_set_and_never_under_a_month(tmp_path):
    assert Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)}).retention_days == 1095
    assert Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "RETENTION_DAYS": "730"}).retention_days == 730
    for bad in ("29", "-5", "1年", "3.5", ""):
        with pytest.raises(ValueError, match="RETENTION_DAYS"):
            Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "RETENTION_DAYS": bad})


def test_no_proxy_is_trusted_unless_trusted_proxies_names_one(tmp_path):
    assert Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)}).trusted_proxies == ()
    settings = Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,,::1"})
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")


def test_the_publisher_is_read_from_the_environment_and_names_the_region_by_default(tmp_path):
    env = {"TSUNAGU_VAR_DIR": str(tmp_path), "REGION_NAME": "土佐町", "MUNICIPALITY_DEPARTMENT": "企画推進課",
           "OPERATOR_NAME": "", "CONTACT_PHONE": "0887-82-0480"}
    publisher = Settings.from_env(env).publisher
    assert (publisher.municipality, publisher.department, publisher.operator, publisher.phone) == (
        "土佐町", "企画推進課", "", "0887-82-0480")
    assert Settings.from_env({**env, "MUNICIPALITY_NAME": "高知県土佐町"}).publisher.municipality == "高知県土佐町"


def test_the_desk_mailbox_is_off_without_a_host_and_its_tls_mode_is_checked(tmp_path):
    base = {"TSUNAGU_VAR_DIR": str(tmp_path)}
    assert not Settings.from_env(base).imap.enabled
    imap = Settings.from_env({**base, "IMAP_HOST": "imap.kagoya.net", "IMAP_USER": "desk"}).imap
    assert (imap.enabled, imap.port, imap.tls, imap.folder) == (True, 993, "implicit", "INBOX")
    assert Settings.from_env({**base, "IMAP_HOST": "h", "IMAP_TLS": "STARTTLS"}).imap.port == 143
    with pytest.raises(ValueError, match="IMAP_TLS"):
        Settings.from_env({**base, "IMAP_TLS": "ssl"})


def test_line_is_off_until_its_secret_and_token_are_set_and_keeps_them_out_of_its_repr(tmp_path):
    assert not Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path)}).line.enabled
    assert not Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), "LINE_CHANNEL_SECRET": "s"}).line.enabled
    line = Settings.from_env({
        "TSUNAGU_VAR_DIR": str(tmp_path), "LINE_CHANNEL_ID": "2000000000", "LINE_CHANNEL_SECRET": "secret-of-the-channel",
        "LINE_CHANNEL_ACCESS_TOKEN": "token-of-the-channel", "LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@tsunagu",
    }).line
    assert line.enabled and line.api_base == "https://api.line.me" and line.add_friend_url.endswith("@tsunagu")
    assert line.account_link_url == "https://access.line.me/dialog/bot/accountLink"
    assert "secret-of-the-channel" not in repr(line) and "token-of-the-channel" not in repr(line)


@pytest.mark.parametrize("name", ["LINE_API_BASE", "LINE_ACCOUNT_LINK_URL", "LINE_ADD_FRIEND_URL"])
def test_a_line_address_that_is_no_web_address_stops_the_app_with_the_reason(tmp_path, name):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({"TSUNAGU_VAR_DIR": str(tmp_path), name: "javascript:alert(1)"})
