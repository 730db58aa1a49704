"""Test doubles of the two providers the program uses (pulumi-command 1.2.1, pulumi-openstack
5.5.3), which no registry this project reaches can provide: plugins that speak the engine's
provider protocol (server.py, wire.py) and follow the real providers' sources, each cited in its
module (command.py over ssh.py, openstack.py over keystone.py). plugins.py installs them, or real
plugin binaries (NOVA_E2E_PLUGINS), into a test's PULUMI_HOME; tests/test_provider_doubles.py
states their behaviour through the real engine."""
