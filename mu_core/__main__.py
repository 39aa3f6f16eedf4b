from mu_core.cli import main

raise SystemExit(main())
