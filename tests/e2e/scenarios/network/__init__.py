"""Networked servers: neutron in the lab (lab/networking.py), the lab's guest (lab/guest.py)."""
