module example.com/no-sigterm

go 1.24
