"""Settings: defaults, TOML file, environment, errors, and docs covering every option."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.config import OPTIONS, Settings, load_settings
from tidings.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md"


def test_defaults_match_the_table() -> None:
    s = load_settings(environ={})
    for o in OPTIONS:
        assert getattr(s, o.name) == o.default, o.name
    assert s.database_url == "sqlite:///tidings.db"
    assert s.site_name == "tidings" and s.allow_private_addresses is False


def test_settings_dataclass_and_table_agree() -> None:
    import dataclasses

    assert [f.name for f in dataclasses.fields(Settings)] == [o.name for o in OPTIONS]


def test_environment_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "tidings.toml"
    f.write_text('site_name = "From file"\nport = 9000\n[other]\n', encoding="utf-8")
    f.write_text('[tidings]\nsite_name = "From file"\nport = 9000\n', encoding="utf-8")
    s = load_settings(
        environ={"TIDINGS_PORT": "9100", "TIDINGS_ALLOW_PRIVATE_ADDRESSES": "yes"}, config_file=f
    )
    assert s.site_name == "From file" and s.port == 9100 and s.allow_private_addresses is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIDINGS_PORT": "eighty"}, "port must be int"),
        ({"TIDINGS_ALLOW_PRIVATE_ADDRESSES": "maybe"}, "must be true or false"),
    ],
)
def test_bad_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text("sitename = 'typo'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'sitename'"):
        load_settings(environ={}, config_file=f)
    f.write_text("site_name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(environ={}, config_file=f)


def test_docs_cover_every_setting() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [o.name for o in OPTIONS if f"`TIDINGS_{o.name.upper()}`" not in text]
    assert not missing, f"docs/CONFIG.md lacks {missing}"
