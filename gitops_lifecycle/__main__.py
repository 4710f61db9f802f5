from gitops_lifecycle.cli import main

raise SystemExit(main())
