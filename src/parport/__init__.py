"""parport: the Windows parallel-port driver stack (``parallel.h`` / ``ntddpar.h``) in Python.

Layers (``design.md`` §2), each importing only those below it: ``parport.nt`` (the Windows
vocabulary and the request object), ``parport.hw`` (register access, the emulator and hardware
backends), ``parport.ieee1284`` (the protocol engine), ``parport.driver`` (port arbiter, devices,
lock/unlock) and, on top, the Pythonic facade, the daemon and the ``parport`` command.

Importing this package touches no hardware and starts no thread.
"""

from ._version import __version__

__all__ = ["__version__"]
