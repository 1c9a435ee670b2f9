module example.com/main-returns-before-drain

go 1.24
