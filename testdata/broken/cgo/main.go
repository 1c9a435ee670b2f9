// Command cgo needs cgo: go-image builds with CGO_ENABLED=0 and must refuse it
// with a clear message rather than produce a dynamic binary.
package main

// #include <stdio.h>
// static void hello(void) { puts("hello from C"); }
import "C"

func main() { C.hello() }
