"""The command-line wrapper of the experiment scripts: a user error is one line on stderr and exit status
2, never a traceback (`--debug` shows it); an interrupted run exits 130 (SIGINT) or 143 (SIGTERM) after
writing its best result."""
from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Callable
from typing import Any

from utils.errors import UserError
from utils.signals import STOP


def cli(main: Callable[[list[str]], Any], argv: list[str] | None = None) -> None:
    """Run `main(argv)` as a command and exit with its status: an int it returns, else 0 (130/143 when a
    signal stopped it)."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv

    def fail(message: str, code: int) -> int:
        if debug:
            traceback.print_exc()
        print(message, file=sys.stderr)
        return code

    try:
        with STOP:
            returned = main(argv)
        code = returned if isinstance(returned, int) else 0
        if STOP:
            code = STOP.exit_code
    except UserError as e:
        code = fail(f"error: {e}", 2)
    except KeyboardInterrupt:
        code = fail("aborted", 130)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        code = fail(f"error: cannot write results ({e.strerror}: {e.filename or 'output folder'}); free some space "
                    "or choose --output_dir=PATH (finished files are complete; a checkpoint, if any, can be "
                    "resumed)", 2)
    except MemoryError:
        code = fail("error: out of memory (lower --max_side or use a smaller image)", 2)
    finally:
        STOP.signal = None
    sys.exit(code)
