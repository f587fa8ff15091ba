#!/usr/bin/env python
"""Django's command-line utility for Arandu."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
    # One BLAS thread: a search is one matrix-vector product, and a second BLAS pool
    # fights the embedder's threads for the two cores (measured in docs/PERFORMANCE.md).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
