package main

import "dagger/go-image/internal/buildcache"

// The builder's go command runs this module's own binary as its
// GOCACHEPROG when a build cache is set (internal/engine.BuildCache): in
// that mode it serves the cache and exits here, before main talks to Dagger.
func init() { buildcache.RunIfMode() }
