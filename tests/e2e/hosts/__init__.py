"""The lab (the `lab` package) as the e2e tests use it: a fixture that brings one up for the tests
that share it, and its phase timings in pytest's summary."""
