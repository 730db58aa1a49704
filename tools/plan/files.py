"""The plan's files are private: they describe a deployment (hosts, users, scripts) and keep
digests of its secrets. Folders are 0700, files 0600, and a file is replaced atomically (a
temporary file in the same folder, renamed over it), so no reader ever sees half a file or a
moment where it is readable by others. The plan writes only into a folder it makes or one of the
caller's own that holds nothing else, and changes no other folder's mode."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Collection, Optional, Union

DIR_MODE = 0o700
FILE_MODE = 0o600
TEMPORARY_SUFFIX = ".tmp"


def _own_folder(path: Path) -> bool:
    """A real folder (not a link to one) that belongs to the caller: the only kind whose mode the
    plan may change."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def _temporary_prefix(name: str) -> str:
    return f".{name}."


def _is_own_entry(entry: str, own_files: Collection[str]) -> bool:
    """One of `own_files`, or the temporary file a plan killed while writing one left behind."""
    return entry in own_files or (entry.endswith(TEMPORARY_SUFFIX) and
                                  any(entry.startswith(_temporary_prefix(name)) for name in own_files))


def output_folder_problem(path: Path, own_files: Collection[str], own_folder_prefix: str = "") -> Optional[str]:
    """Why the plan may not write its files into `path` (None: it may). It writes only into a
    folder it makes, or an existing one that is the caller's own, a real folder (not a link), and
    holds nothing but `own_files` (an earlier plan's) and folders named `own_folder_prefix`...
    (its what-ifs'): so it overwrites no file it did not write, and changes the mode of no folder
    but its own (a shared folder, the project's root)."""
    if not os.path.lexists(path):
        ancestor = path.parent
        while not os.path.lexists(ancestor):
            ancestor = ancestor.parent
        return None if ancestor.is_dir() else f"cannot be made: {ancestor} is not a folder"
    if path.is_symlink():
        return "is a symbolic link (name the folder it leads to)"
    if not path.is_dir():
        return "is a file, not a folder"
    if not _own_folder(path):
        return "is a folder of another user"
    try:
        foreign = sorted(entry for entry in os.listdir(path) if not _is_own_entry(entry, own_files) and not (
            own_folder_prefix and entry.startswith(own_folder_prefix) and _own_folder(path / entry)))
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        return f"holds files the plan did not write ({shown})"
    return None


def private_dir(path: Path, *also: Path) -> Path:
    """Create `path` (and any missing parents) 0700; tighten `path` and each of `also` (folders
    between it and where the plan's files go, such as out/) to 0700 when they are looser, if they
    are the caller's own real folders. A folder of another user or a link to one keeps its mode
    (a shared 1777 folder would lose its sticky bit); output_folder_problem says beforehand
    whether `path` may take the plan's files at all."""
    missing = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    made = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)  # the umask may take bits away: set exactly below
            made.append(folder)
        except FileExistsError:  # made meanwhile by another plan; tightened below if it is `path`
            pass
    for folder in {*made, path, *also}:
        if _own_folder(folder) and stat.S_IMODE(os.lstat(folder).st_mode) != DIR_MODE:
            os.chmod(folder, DIR_MODE)
    return path


def write_private(path: Path, content: Union[str, bytes]) -> Path:
    """Write `path` 0600, atomically: the temporary file is created 0600 (O_EXCL, mkstemp) in
    the same folder, then renamed over `path`; an old file's looser mode goes with it."""
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path.name), suffix=TEMPORARY_SUFFIX)
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
