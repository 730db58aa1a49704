"""Instances on the hypervisors: booted, and moved between them."""
