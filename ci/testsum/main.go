// Command testsum reads `go test -json` on stdin and prints what a CI log
// needs: the output of failed tests, every skipped test with its reason, how
// many tests needed an absent Dagger engine or tool, and one closing tally.
// It exits 1 when any test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// engineMark is the prefix every engine-dependent test's skip reason starts
// with, so CI can count them.
const engineMark = "NO DAGGER ENGINE"

func main() {
	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped int
	var failures, skips []string
	pkgFailed := map[string]bool{}
	engineRan, engineSkipped := 0, 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors come as plain text
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if outputs[key] == nil {
				outputs[key] = &strings.Builder{}
			}
			outputs[key].WriteString(e.Output)
		case "pass":
			if e.Test != "" {
				passed++
				if strings.HasPrefix(e.Test, "TestEngine") {
					engineRan++
				}
			}
		case "fail":
			if e.Test == "" {
				pkgFailed[e.Package] = true
			} else {
				failed++
				failures = append(failures, key)
			}
		case "skip":
			if e.Test != "" {
				skipped++
				reason := lastLine(outputs[key])
				if strings.Contains(reason, engineMark) {
					engineSkipped++
				}
				skips = append(skips, fmt.Sprintf("%s: %s", key, reason))
			}
		}
	}
	for _, f := range failures {
		fmt.Printf("--- FAIL %s\n%s\n", f, outputs[f])
	}
	for p := range pkgFailed {
		if o := outputs[p+" "]; o != nil {
			fmt.Printf("--- FAIL package %s\n%s\n", p, o)
		}
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Printf("skipped tests (%d):\n", len(skips))
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	fmt.Printf("Dagger engine tests: %d ran, %d skipped for want of an engine\n", engineRan, engineSkipped)
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	// In CI the engine tests are what proves the Dagger module works: a run
	// where none of them ran is a failure, whatever else passed.
	if os.Getenv("CI") == "true" && engineRan == 0 {
		fmt.Println("FAIL: CI=true but no Dagger engine test ran (TestEngine*): start the engine with ci/engine/engine.sh")
		os.Exit(1)
	}
	if failed > 0 || len(pkgFailed) > 0 {
		os.Exit(1)
	}
}

// lastLine is the skip reason: the last non-empty line of the test's output
// that is not go test's own "--- SKIP" line.
func lastLine(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}
