"""``python -m parport`` runs the ``parport`` command."""

from .cli import main

raise SystemExit(main())
