module snoop

go 1.24
