"""The plan's files are private: they describe a deployment (hosts, users, scripts) and keep
digests of its secrets. Folders are 0700, files 0600, and a file is replaced atomically (a
temporary file in the same folder, renamed over it), so no reader ever sees half a file or a
moment where it is readable by others."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Union

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *also: Path) -> Path:
    """Create `path` (and any missing parents) 0700; tighten `path` and each of `also` (folders
    between it and where the plan's files go, such as out/) to 0700 when they are looser.
    Existing folders that are not ours to tighten (the parents of an --out) are left alone."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # made meanwhile by another plan; tightened below if it is ours
            pass
    for folder in {path, *also, *missing}:
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        if mode != DIR_MODE:
            os.chmod(folder, DIR_MODE)
    return path


def write_private(path: Path, content: Union[str, bytes]) -> Path:
    """Write `path` 0600, atomically: the temporary file is created 0600 (O_EXCL, mkstemp) in
    the same folder, then renamed over `path`; an old file's looser mode goes with it."""
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)  # mkstemp's mode already: said so a change there cannot loosen it
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
