"""components/ini.py, the INI writer: which section oslo.config reads, overrides merged where it
reads them, each value written so that oslo.config's parser gives back exactly that value."""
from __future__ import annotations

import pytest

from components.ini import merge_overrides, oslo_section, oslo_value, render_ini


@pytest.mark.parametrize(("written", "read_as"), [
    ("DEFAULT", "DEFAULT"), ("default", "default"), ("Default", "default"), ("LIBVIRT", "libvirt"), ("vnc", "vnc"),
])
def test_a_section_is_the_one_oslo_config_reads(written, read_as):
    assert oslo_section(written) == read_as


def test_overrides_merge_into_the_section_oslo_config_reads_and_the_later_layer_wins():
    options = {"DEFAULT": {"debug": "false"}, "libvirt": {"virt_type": "kvm"}}
    merged = merge_overrides(options, {"LIBVIRT": {"cpu_mode": "host-model"}, "DEFAULT": {"debug": "true"}},
                             {"libvirt": {"cpu_mode": "none"}})
    assert merged == {"DEFAULT": {"debug": "true"}, "libvirt": {"virt_type": "kvm", "cpu_mode": "none"}}
    assert options == {"DEFAULT": {"debug": "false"}, "libvirt": {"virt_type": "kvm"}}  # left as it was


@pytest.mark.parametrize(("value", "written"), [
    ("plain", "plain"),
    ("pa$word", "pa$$word"),  # $name would be another option's value
    ("a\\$b", "a\\\\$b"),  # \$ reads as $$: the $ after a backslash is written \$
    ("  pw  ", '"  pw  "'),  # the parser strips the spaces around a value...
    ("'pw'", "\"'pw'\""),  # ...and one pair of quotes
    ('"pw"', '""pw""'),
    ("it's", "it's"),  # one quote alone is kept as it is
    ("", ""),
])
def test_a_value_is_written_as_oslo_config_reads_it_back(value, written):
    assert oslo_value(value) == written


@pytest.mark.parametrize("value", ["a\nb", "a\rb"])
def test_a_line_break_is_refused(value):
    with pytest.raises(ValueError, match="line break"):
        oslo_value(value)


def test_the_file_starts_with_its_header_and_default_and_keeps_the_other_sections_order():
    text = render_ini({"vnc": {"enabled": "true"}, "DEFAULT": {"my_ip": "10.0.0.6", "state_path": "/var/lib/nova"},
                       "glance": {"region_name": "RegionOne"}})
    assert text == ("# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n\n"
                    "[DEFAULT]\nmy_ip = 10.0.0.6\nstate_path = /var/lib/nova\n\n"
                    "[vnc]\nenabled = true\n\n"
                    "[glance]\nregion_name = RegionOne\n")


def test_a_value_that_cannot_be_written_names_its_section_and_option():
    with pytest.raises(ValueError, match=r"^\[database\] connection: contains a line break"):
        render_ini({"database": {"connection": "mysql+pymysql://nova:pw\n@db/nova"}})
