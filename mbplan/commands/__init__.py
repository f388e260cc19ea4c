"""Subcommands of the ``mbplan`` command line, one module each (see :mod:`mbplan.cli`)."""
