"""The wall in a real browser says when it does not know (#12): with Redis down its
live dot turns red ("Không cập nhật") and the ticker says "unknown", never the green
"no overdue dossiers"."""

from __future__ import annotations

import playwright.sync_api as playwright_api
import pytest

from tests.integration.test_api_errors import stack  # noqa: F401 - the fixture: a server with a Redis of its own
from tests.tools import require
from tests.wall.test_wall_browser import LAUNCH_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(300)]


def test_the_live_dot_and_the_ticker_when_redis_goes_down(stack) -> None:  # noqa: F811
    stack, own_redis = stack
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require("chromium"), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"http://127.0.0.1:{stack.port}/wall?unit=dng&view=deadlines")
            # healthy, nothing overdue: the dot is green and the ticker says so
            page.wait_for_function("() => document.getElementById('wall').dataset.conn === 'live'", timeout=60_000)
            page.wait_for_function("() => document.querySelector('#ticker-track .tick.ok') !== null", timeout=60_000)
            assert page.get_attribute("#wall", "data-stale") == "0"
            own_redis.stop()
            page.wait_for_function("() => document.getElementById('wall').dataset.conn === 'stale'", timeout=60_000)
            assert page.get_attribute("#wall", "data-stale-reason") == "store"
            assert page.text_content("#conn-label") == "Không cập nhật"
            page.wait_for_function("() => document.querySelector('#ticker-track .tick.unknown') !== null",
                                   timeout=60_000)
            ticker = page.text_content("#ticker-track")
            assert "Không rõ hồ sơ quá hạn" in ticker and "Không có hồ sơ quá hạn" not in ticker
        finally:
            browser.close()
