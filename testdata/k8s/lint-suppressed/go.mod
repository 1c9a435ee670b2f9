module example.com/lint-suppressed

go 1.24

require k8s.io/client-go v0.37.2

replace k8s.io/client-go => ../client-go-stub
