// Package nomain is a library: there is no main package to build.
package nomain

// Hello is exported so the package is not empty.
func Hello() string { return "hello" }
