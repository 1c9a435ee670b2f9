package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"dagger/go-image/internal/childenv"
)

// GitHookSource is a Go module (a main package) whose directory is a git
// repository with a hostile .git/config: core.fsmonitor names a program
// that git runs on `git status`. The go command runs `git status` to stamp
// VCS information (-buildvcs=auto, go list -json included): a source
// shipped with such a .git (an archive, a Dagger Directory) then runs code
// as go-image's user, outside any sandbox, next to the release's secrets.
// The program writes the file marker (nothing else) when it runs; the
// caller asserts that marker does not exist. It skips t without git.
func GitHookSource(t testing.TB, marker string) string {
	helper(t)
	git, err := exec.LookPath("git")
	if err != nil {
		if tt, ok := t.(*testing.T); ok {
			tt.Skip("git is not installed: the fsmonitor hook needs it")
		}
		fatal(t, err)
	}
	dir := t.TempDir()
	hook := filepath.Join(t.TempDir(), "fsmonitor")
	files := map[string]string{
		"go.mod":  "module example.com/hooked\n\ngo 1.24\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			fatal(t, err)
		}
	}
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho ran >> '"+marker+"'\n"), 0o755); err != nil {
		fatal(t, err)
	}
	for _, args := range [][]string{
		{"init", "-q", "."},
		{"add", "-A"},
		{"-c", "user.email=hostile@example.com", "-c", "user.name=hostile", "commit", "-q", "-m", "hostile"},
		{"config", "core.fsmonitor", hook},
	} {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		// The test machine's git configuration stays out of it.
		cmd.Env = append(childenv.Tool(os.Environ()), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			fatal(t, fmt.Errorf("git %s: %v: %s", args[0], err, out))
		}
	}
	return dir
}
