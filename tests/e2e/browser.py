"""A headless chromium in the lab's services host, driven over WebDriver from here (the
dashboard scenarios); selenium is imported only when a browser is asked for."""
from __future__ import annotations

from contextlib import contextmanager

from tools.plan import PROJECT_ROOT

SCREENSHOTS = PROJECT_ROOT / "out" / "e2e" / "screenshots"  # the test's output (out/ is not committed)
BROWSER_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1150")  # tall enough for the hypervisors table


@contextmanager
def headless_chromium(webdriver_url: str):
    """The services host's chromium, quit when done."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in BROWSER_ARGS:
        options.add_argument(arg)
    driver = webdriver.Remote(command_executor=webdriver_url, options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver, url: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(url + "auth/login/")
    WebDriverWait(driver, 60).until(ready.presence_of_element_located((By.ID, "id_username")))
    driver.find_element(By.ID, "id_username").send_keys(user)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.ID, "loginBtn").click()
