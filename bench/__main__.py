"""``python -m bench [--quick]``: run every benchmark, print the table, append RESULTS.md."""

from bench.run import main

raise SystemExit(main())
