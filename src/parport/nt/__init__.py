"""Layer 1: the Windows parallel-port vocabulary, byte-exact (``windows-parport.md`` Part B §3, §4).

NTSTATUS values, IOCTL codes, IRP major functions, structures with their x64 layouts, flag and
mode constants, and the :class:`Irp` request object. Names are the header names. No I/O, no
threads.
"""

from .constants import *  # noqa: F403
from .errors import *  # noqa: F403
from .ioctl import *  # noqa: F403
from .irp import *  # noqa: F403
from .major import *  # noqa: F403
from .status import *  # noqa: F403
from .structs import *  # noqa: F403
