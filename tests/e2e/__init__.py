"""End-to-end tests, imported as `tests.e2e.<name>` (the project root their one import root).
The machinery: the product's lab/ (the test hosts), hosts/ (the lab as a fixture), pulumi_engine.py
(the real engine), deployment.py, instances.py and browser.py (what the scenarios deploy, boot
and click); the scenarios/ packages use it, test_hosts.py tests the hosts themselves."""
