"""Horizon on the controller, in a real browser (tests/e2e/browser.py)."""
from __future__ import annotations

import time

import pytest

from tests.e2e.browser import SCREENSHOTS, headless_chromium, log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser(env):
    """A headless chromium in the services host, driven over WebDriver from here."""
    with headless_chromium(env.webdriver_url) as driver:
        yield driver


def test_the_dashboard_logs_in_and_shows_the_hypervisor(deployment, browser, env, controller, hypervisor):
    """Horizon on the controller, in a real browser: a wrong password shows the login error; the
    stack's admin password logs in; Admin > Compute > Hypervisors lists the hypervisor node."""
    from selenium.webdriver.support.ui import WebDriverWait
    engine, _, _ = deployment
    assert "login page renders" in engine.results["dashboard-verify"].stdout
    url = f"http://{controller.address.ip}/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    log_in(browser, url, "admin", "not-the-password")
    WebDriverWait(browser, 60).until(lambda d: "Invalid credentials" in d.page_source)
    assert "/auth/login/" in browser.current_url
    browser.save_screenshot(str(SCREENSHOTS / "login-refused.png"))

    log_in(browser, url, "admin", env.admin_password)
    WebDriverWait(browser, 120).until(lambda d: "/auth/login/" not in d.current_url)
    for _ in range(8):  # the session holds from page to page (Apache spreads them over its children)
        browser.get(url + "admin/")
        assert "/auth/login/" not in browser.current_url, "logged out between pages: the session was lost"
    def listed(driver) -> bool:  # (re)loaded until the table lists it: one slow API answer is no verdict
        driver.get(url + "admin/hypervisors/")
        return hypervisor.name in driver.page_source
    try:
        WebDriverWait(browser, 180, poll_frequency=10).until(listed)
    except Exception:
        browser.save_screenshot(str(SCREENSHOTS / "admin-hypervisors-failed.png"))
        text = browser.find_element("tag name", "body").text
        raise AssertionError(f"no {hypervisor.name} on {browser.current_url} after 180 s; the page says:\n{text[:2000]}")
    assert "Hypervisors" in browser.title or "Hypervisors" in browser.page_source
    browser.save_screenshot(str(SCREENSHOTS / "admin-hypervisors.png"))
    assert (SCREENSHOTS / "admin-hypervisors.png").stat().st_size > 10_000
    env.timings["dashboard_browser_s"] = round(time.monotonic() - started, 1)
