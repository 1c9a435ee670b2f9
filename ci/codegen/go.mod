module dagger/go-image/ci/codegen

go 1.26.0

require (
	github.com/vektah/gqlparser/v2 v2.5.32
	golang.org/x/mod v0.30.0
)

require github.com/agnivade/levenshtein v1.2.1 // indirect
