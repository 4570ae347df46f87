"""``python -m parport.service``: the daemon, as ``parportd``."""

from .daemon import main

main()
