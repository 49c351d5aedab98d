"""`python -m nemo_local ...` is `nemo-local ...`."""

from nemo_local.cli import main

raise SystemExit(main())
