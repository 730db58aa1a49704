"""The libvirt virt types a hypervisor can run with, declared once for every part that names
them: the stack's `virtType` check (components/config), the check of what detection printed
(components/compute) and the script lines that require one (components/scripts). It imports
nothing, so configuration still loads without pulumi."""

# kvm: hardware virtualisation through /dev/kvm; qemu: emulation, which works anywhere (slowly).
VIRT_TYPES: tuple[str, ...] = ("kvm", "qemu")
