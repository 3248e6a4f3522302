from audit_service.admin.cli import main

raise SystemExit(main())
