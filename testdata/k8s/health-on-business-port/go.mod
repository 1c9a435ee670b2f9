module example.com/health-on-business-port

go 1.24
