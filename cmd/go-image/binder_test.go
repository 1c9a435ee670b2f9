package main

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"dagger/go-image/internal/choices"
)

// TestBinder: only the flags given become choices, so a flag left out
// keeps its choice unset (its default is the one choices applies), an
// explicit empty value is a choice, and a bad choice names its flag.
func TestBinder(t *testing.T) {
	bindAll := func() (*choices.Choices, *binder) {
		var c choices.Choices
		b := newBinder(newFlagSet("test", io.Discard), &c)
		addRecipeFlags(b)
		addGateFlags(b, "size", "upx")
		addOffFlag(b, "scan", "off")
		addScanFlags(b)
		addSmokeGateFlags(b)
		addLintFlags(b)
		return &c, b
	}
	c, b := bindAll()
	if err := parse(b.fs, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.apply(); err != nil {
		t.Fatal(err)
	}
	if js, err := json.Marshal(*c); err != nil || string(js) != "{}" {
		t.Errorf("no flag given, yet choices were made: %s (%v)", js, err)
	}

	c, b = bindAll()
	args := []string{"--max-size", "20MB", "--ready-path", "", "--grace", "1m30s", "--label", "team=payments", "--skip", "harden/no-setuid=ping",
		"--no-scan", "registry scans", "--ignore-unfixed", "--source-date-epoch", "7", "--probe-port", "9090", "--tags", "netgo", "--tags", "osusergo"}
	if err := parse(b.fs, args); err != nil {
		t.Fatal(err)
	}
	if err := b.apply(); err != nil {
		t.Fatal(err)
	}
	g := c.Gates
	switch {
	case *g.MaxSize != "20MB", *g.Smoke.ReadyPath != "", *g.Smoke.Grace != "1m30s", *g.Smoke.ProbePort != 9090, !*g.Scan.IgnoreUnfixed:
		t.Errorf("gate choices = %+v", g)
	case g.Off["scan"] != "registry scans", g.Skip["harden/no-setuid"] != "ping", g.Smoke.HealthPath != nil, g.UPX != nil:
		t.Errorf("gate maps and unset choices = %+v", g)
	case c.Recipe.Labels["team"] != "payments", *c.Recipe.SourceDateEpoch != 7, strings.Join(c.Recipe.Tags, " ") != "netgo osusergo", c.Recipe.Main != nil:
		t.Errorf("recipe choices = %+v", c.Recipe)
	}
	if err := b.validate(); err != nil {
		t.Errorf("valid flags: %v", err)
	}

	// A bad choice is a usage error that names the flag that made it.
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"--max-size", "25M"}, `--max-size: max size: size "25M"`},
		{[]string{"--severity", "SEVERE"}, `--severity: severity "SEVERE"`},
		{[]string{"--lint-policy", "x=deny"}, "--lint-policy: lint policy"},
		{[]string{"--label", "team"}, `--label: label "team": want key=value`},
		{[]string{"--no-scan", ""}, "--no-scan: switch off gate scan: give the reason"},
		{[]string{"--skip", "harden/typo=x"}, `--skip: skip "harden/typo=x": unknown check`},
		{[]string{"--health-path", "healthz"}, `--health-path: health path "healthz"`},
		{[]string{"--main", "../x"}, `--main: main package "../x"`},
		{[]string{"--ldflag", "-X main.x={{.Env.A}}"}, `--ldflag: ldflag "-X main.x={{.Env.A}}": unknown template`},
	} {
		_, b := bindAll()
		err := parse(b.fs, tt.args)
		if err == nil {
			if err = b.apply(); err == nil {
				err = b.validate()
			}
		}
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%v: %v, want a usage error saying %q", tt.args, err, tt.says)
		}
	}
}

// TestHelpEveryCommand: every command's flags bind (a flag bound to no
// choice would panic) and its help exits 0.
func TestHelpEveryCommand(t *testing.T) {
	for name := range commands() {
		if code, _, stderr := goImage(t, name, "-h"); code != 0 || !strings.Contains(stderr, "Usage of go-image "+name) {
			t.Errorf("go-image %s -h: exit %d\n%s", name, code, stderr)
		}
	}
}
