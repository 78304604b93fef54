"""Browser tests never skip silently in CI: without Chromium they fail there, and skip with the
reason elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console import browser


def test_a_missing_chromium_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        browser.require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser.require_chromium()
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path)  # present: nothing happens
    browser.require_chromium()
