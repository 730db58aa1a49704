"""Horizon on the controller, in a real browser."""
