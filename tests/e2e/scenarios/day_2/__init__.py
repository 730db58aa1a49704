"""Day 2 on the installed stack: reruns, rotated passwords, a changed option, a drained
hypervisor, drift, and at last destroy (test_destroy.py: after every other change)."""
