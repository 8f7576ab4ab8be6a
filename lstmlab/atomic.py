"""Writing a file so that a crash mid-write leaves the previous file whole."""
import os
import tempfile


def atomic_write(path, write):
    """Call `write(f)` on a temporary file beside `path`, then rename it over `path`.

    The rename is atomic on POSIX and Windows; until it happens the old file
    is untouched, and on any error the temporary file is removed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".lstmlab-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
