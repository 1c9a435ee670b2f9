module example.com/readiness-always-200

go 1.24
