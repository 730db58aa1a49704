def set_openstack_host(text: str, host: str) -> str:
    """Exactly one top-level `OPENSTACK_HOST = "<host>"`: the first assignment is replaced in
    place, later ones are removed, and one is appended when there is none. Commented lines,
    indented lines and every other setting are left untouched."""
    import re as _re  # (kept local: this function's source also runs on the node)

    if not _re.fullmatch(r"[A-Za-z0-9.:-]+|\[[0-9A-Fa-f:.]+\]", host):
        raise ValueError("OPENSTACK_HOST must be a host name, an IP address or a bracketed IPv6 address")
    assignment = _re.compile(r"^OPENSTACK_HOST\s*=")
    wanted = 'OPENSTACK_HOST = "%s"' % host  # (no f-string: Ubuntu 14.04's python3 is 3.4)
    out, seen = [], False
    lines = text.splitlines(keepends=True)
    for line in lines:
        if assignment.match(line):
            if not seen:
                out.append(wanted + ("\n" if line.endswith("\n") else ""))
                seen = True
            continue
        out.append(line)
    if not seen:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(wanted + "\n")
    return "".join(out)
