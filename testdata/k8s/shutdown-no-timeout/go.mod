module example.com/shutdown-no-timeout

go 1.24
