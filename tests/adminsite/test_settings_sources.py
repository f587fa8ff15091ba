"""ARANDU_SOURCE_ROOTS: the folders that folder sources may scan."""

from __future__ import annotations

from tests.adminsite.test_settings import load_settings

SHOW = "[str(p) for p in s.ARANDU_SOURCE_ROOTS]"


def test_sources_default_to_the_data_dir_s_sources_folder(tmp_path):
    result = load_settings(tmp_path, show=SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([str((tmp_path / "data").resolve() / "sources")])


def test_several_roots_are_separated_by_colons_or_commas(tmp_path):
    result = load_settings(tmp_path, show=SHOW, ARANDU_SOURCE_ROOTS="/srv/a:/srv/b, /mnt/c")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(["/srv/a", "/srv/b", "/mnt/c"])


def test_an_empty_value_allows_no_folder(tmp_path):
    result = load_settings(tmp_path, show=SHOW, ARANDU_SOURCE_ROOTS=" ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_relative_root_stops_start_up_naming_the_variable(tmp_path):
    result = load_settings(tmp_path, show=SHOW, ARANDU_SOURCE_ROOTS="/srv/a:shares")
    assert result.returncode != 0
    assert "ARANDU_SOURCE_ROOTS must list absolute folders" in result.stderr
