"""The one atomic write: every file the package writes goes to a temporary file in the same folder and is
renamed into place, so a reader sees the old file or the new one, never half of one, and a failed or killed
writer leaves the old file as it was (a temp file a killed writer leaves is named `.<name>.<random>.tmp`).
"""
from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from recipe_assets.core.errors import RecipeDataError

T = TypeVar("T")
WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
WRITE_FAILURE_TEXTS = ("No space left on device", "Read-only file system", "Permission denied", "Disk quota exceeded")


def write_atomically(path: Path, write: Callable[[str], T]) -> T:
    """`write(temp_name)` writes the whole file; it then replaces `path`, and its result is returned. A full disk or read-only folder
    is reported naming `path`; on any failure the temp file is removed and `path` is untouched."""
    temp_name = temp_file_beside(path)
    try:
        result = write(temp_name)
        publish(temp_name, path)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        if is_write_failure(exc):
            raise not_writable(path, exc) from None
        raise
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return result


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda temp_name: Path(temp_name).write_text(text, encoding="utf-8"))


def temp_file_beside(path: Path) -> str:
    """A new temporary file in `path`'s folder (same filesystem, so the rename is atomic)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise not_writable(path, exc) from None
    os.close(handle)
    return temp_name


def publish(temp_name: str | os.PathLike, path: Path) -> None:
    """Give the finished temp file the mode a plainly created file would have, then rename it into place.
    mkstemp creates 0600 files: other users and services reading the outputs would be refused."""
    os.chmod(temp_name, umask_file_mode())
    os.replace(temp_name, path)


def publish_if_absent(temp_name: str | os.PathLike, path: Path) -> bool:
    """`publish`, except that an existing `path` is kept: a hard link fails where `path` exists (one another
    process made meanwhile), where a rename would replace it. The temp file is gone either way; True if
    `path` is now the temp file's content."""
    try:
        os.chmod(temp_name, umask_file_mode())
        os.link(temp_name, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temp_name)


def umask_file_mode() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return 0o666 & ~current


def is_write_failure(exc: OSError) -> bool:
    """Arrow's writers raise OSError without errno, naming the cause only in the message."""
    return exc.errno in WRITE_ERRNOS or any(text in str(exc) for text in WRITE_FAILURE_TEXTS)


def not_writable(path: Path, exc: OSError) -> RecipeDataError:
    reason = next((text for text in WRITE_FAILURE_TEXTS if text in str(exc)), None) or exc.strerror or str(exc)
    return RecipeDataError(f"cannot write {path}: {reason} (the folder {path.parent} must be writable and have free space)")
