package attest_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/kyverno/go-jmespath"
	"sigs.k8s.io/yaml"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/manifest"
	"dagger/go-image/internal/report"
)

const policyFile = "../../deploy/kyverno/require-go-image-gates.yaml"

// The parts of a Kyverno ClusterPolicy the test reads.
type clusterPolicy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Rules []struct {
			Match struct {
				Any []struct {
					Resources struct {
						Kinds    []string `json:"kinds"`
						Selector struct {
							MatchLabels map[string]string `json:"matchLabels"`
						} `json:"selector"`
					} `json:"resources"`
				} `json:"any"`
			} `json:"match"`
			VerifyImages []struct {
				Attestors    []attestorSet `json:"attestors"`
				Attestations []struct {
					Type       string        `json:"type"`
					Attestors  []attestorSet `json:"attestors"`
					Conditions []anyAllConds `json:"conditions"`
				} `json:"attestations"`
			} `json:"verifyImages"`
		} `json:"rules"`
	} `json:"spec"`
}

type attestorSet struct {
	Entries []struct {
		Keys struct {
			PublicKeys string `json:"publicKeys"`
			Rekor      struct {
				IgnoreTlog bool `json:"ignoreTlog"`
			} `json:"rekor"`
			CTLog struct {
				IgnoreSCT bool `json:"ignoreSCT"`
			} `json:"ctlog"`
		} `json:"keys"`
	} `json:"entries"`
}

type anyAllConds struct {
	All []condition `json:"all"`
	Any []condition `json:"any"`
}

type condition struct {
	Key      any    `json:"key"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
	Message  string `json:"message"`
}

// variable is Kyverno's form for a value computed by JMESPath: a string
// that is one {{ expression }} substitutes to the expression's typed result.
var variable = regexp.MustCompile(`^\{\{(.*)\}\}$`)

// substitute resolves a condition operand against the predicate, as
// Kyverno's variables.SubstituteAllInConditions does for a whole-string
// variable, with Kyverno's own JMESPath library.
func substitute(v any, predicate any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil
	}
	m := variable.FindStringSubmatch(s)
	if m == nil {
		if strings.Contains(s, "{{") {
			return nil, fmt.Errorf("%q: only whole-string variables are evaluated here", s)
		}
		return s, nil
	}
	return jmespath.Search(strings.TrimSpace(m[1]), predicate)
}

// equals is Kyverno's Equals operator (operator.EqualHandler) for the
// operand types a gate report yields: bool, number, string.
func equals(key, value any) (bool, error) {
	switch k := key.(type) {
	case bool:
		v, ok := value.(bool)
		return ok && k == v, nil
	case float64:
		switch v := value.(type) {
		case float64:
			return k == v, nil
		case int64:
			return k == math.Trunc(k) && int64(k) == v, nil
		}
		return false, nil
	case string:
		v, ok := value.(string)
		return ok && k == v, nil
	}
	return false, fmt.Errorf("operand %v of type %T: not evaluated by this test", key, key)
}

// admit evaluates the conditions on a predicate: every condition of an
// "all" block, at least one of an "any" block, every block.
func admit(t *testing.T, blocks []anyAllConds, predicate []byte) (bool, string) {
	t.Helper()
	var data any
	if err := json.Unmarshal(predicate, &data); err != nil {
		t.Fatal(err)
	}
	// A substitution error fails the rule in Kyverno ("failed to substitute
	// variables in attestation conditions"): the image is refused.
	var substErr error
	eval := func(c condition) bool {
		if c.Operator != "Equals" {
			t.Fatalf("operator %q: this test evaluates Equals only; extend it with Kyverno's semantics", c.Operator)
		}
		k, err := substitute(c.Key, data)
		if err != nil {
			substErr = err
			return false
		}
		v, err := substitute(c.Value, data)
		if err != nil {
			substErr = err
			return false
		}
		ok, err := equals(k, v)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, b := range blocks {
		for _, c := range b.All {
			if !eval(c) {
				if substErr != nil {
					return false, substErr.Error()
				}
				return false, c.Message
			}
		}
		if len(b.Any) > 0 {
			ok := false
			for _, c := range b.Any {
				ok = ok || eval(c)
			}
			if !ok {
				return false, "no condition of an any block holds"
			}
		}
	}
	return true, ""
}

func readPolicy(t *testing.T) clusterPolicy {
	t.Helper()
	b, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var p clusterPolicy
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKyvernoPolicy: the sample policy's conditions admit a passing gate
// report and refuse a failing one, and it checks the attestation go-image
// writes, signed with a key and without a transparency log, on the pods
// `manifest --require-gates` labels.
func TestKyvernoPolicy(t *testing.T) {
	p := readPolicy(t)
	if p.APIVersion != "kyverno.io/v1" || p.Kind != "ClusterPolicy" || len(p.Spec.Rules) != 1 || len(p.Spec.Rules[0].VerifyImages) != 1 {
		t.Fatalf("policy shape: %s %s, %d rules", p.APIVersion, p.Kind, len(p.Spec.Rules))
	}
	rule := p.Spec.Rules[0]
	if got := rule.Match.Any[0].Resources.Selector.MatchLabels; !reflect.DeepEqual(got, map[string]string{manifest.GatedLabel: "true"}) {
		t.Errorf("policy selects pods by %v, want the label manifest --require-gates sets (%s=true)", got, manifest.GatedLabel)
	}
	vi := rule.VerifyImages[0]
	if len(vi.Attestations) != 1 || vi.Attestations[0].Type != attest.GateReportType {
		t.Fatalf("attestations %+v, want one of type %s", vi.Attestations, attest.GateReportType)
	}
	for _, set := range append(vi.Attestors, vi.Attestations[0].Attestors...) {
		for _, e := range set.Entries {
			if !strings.Contains(e.Keys.PublicKeys, "BEGIN PUBLIC KEY") || !e.Keys.Rekor.IgnoreTlog || !e.Keys.CTLog.IgnoreSCT {
				t.Errorf("attestor %+v: want a public key, with the offline signatures' tlog and SCT checks off", e.Keys)
			}
		}
	}
	conds := vi.Attestations[0].Conditions

	pass := &report.Report{}
	pass.Add(report.Result{Gate: "size", ID: "size/compressed", Status: report.Pass, Message: "3 MB"},
		report.Result{Gate: "upx", ID: "upx/packed", Status: report.Warn, Message: "allowed"},
		report.Result{Gate: "smoke", ID: "smoke/off", Status: report.Skipped, Message: "switched off: reason"})
	fail := &report.Report{Results: append([]report.Result(nil), pass.Results...)}
	fail.Add(report.Result{Gate: "harden", ID: "harden/user-nonroot", Status: report.Fail, Message: "runs as root"})
	b := attest.Build{BuilderID: attest.BuilderCLI}
	predicate := func(g attest.GateReport) []byte {
		js, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	// A report whose flag and results disagree, as a hand-made one could.
	forged := attest.NewGateReport(fail, "r/x@sha256:1", b)
	forged.Passed = true

	tests := []struct {
		name      string
		predicate []byte
		admitted  bool
	}{
		{"passing report", predicate(attest.NewGateReport(pass, "r/x@sha256:1", b)), true},
		{"failing report", predicate(attest.NewGateReport(fail, "r/x@sha256:1", b)), false},
		{"passed: true with a failed check", predicate(forged), false},
		{"not a gate report", []byte(`{"buildDefinition":{}}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := admit(t, conds, tt.predicate)
			if ok != tt.admitted {
				t.Errorf("admitted = %v (%s), want %v", ok, why, tt.admitted)
			}
		})
	}
}

// TestManifestRequireGates: the label the policy matches is the one
// manifest renders on the pod template, and only when asked.
func TestManifestRequireGates(t *testing.T) {
	o := manifest.DefaultOptions()
	o.Image = "registry.example/acme/api@sha256:" + strings.Repeat("a", 64)
	for _, gated := range []bool{false, true} {
		o.RequireGates = gated
		y, err := manifest.Render(o)
		if err != nil {
			t.Fatal(err)
		}
		doc, _, _ := strings.Cut(string(y), "\n---\n")
		var dep struct {
			Spec struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				Template struct {
					Metadata struct {
						Labels map[string]string `json:"labels"`
					} `json:"metadata"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &dep); err != nil {
			t.Fatal(err)
		}
		_, inSelector := dep.Spec.Selector.MatchLabels[manifest.GatedLabel]
		if got := dep.Spec.Template.Metadata.Labels[manifest.GatedLabel] == "true"; got != gated || inSelector {
			t.Errorf("--require-gates=%v: pod labels %v, selector %v", gated, dep.Spec.Template.Metadata.Labels, dep.Spec.Selector.MatchLabels)
		}
	}
	p := readPolicy(t)
	if _, ok := p.Spec.Rules[0].Match.Any[0].Resources.Selector.MatchLabels[manifest.GatedLabel]; !ok {
		t.Error("the policy does not select the label manifest renders")
	}
}

// offCondition is the condition README's "Admission policy" gives to
// refuse a report in which the release's policy switched a gate off (the
// shipped policy admits it: skipped is not failed).
var offCondition = anyAllConds{All: []condition{{Key: "{{ length(results[?ends_with(id, '/off')]) }}", Operator: "Equals", Value: float64(0), Message: "the release switched a gate off"}}}

func TestKyvernoConditionNoGateOff(t *testing.T) {
	conds := append(readPolicy(t).Spec.Rules[0].VerifyImages[0].Attestations[0].Conditions, offCondition)
	full, off := &report.Report{}, &report.Report{}
	full.Add(report.Result{Gate: "scan", ID: "scan/vulnerabilities", Status: report.Pass, Message: "none"},
		report.Result{Gate: "smoke", ID: "smoke/sigterm-drain", Status: report.Skipped, Message: "no slow path configured"})
	off.Add(report.Result{Gate: "scan", ID: "scan/off", Status: report.Skipped, Message: "scan gate switched off: no DB"})
	for _, tt := range []struct {
		r        *report.Report
		admitted bool
	}{{full, true}, {off, false}} {
		js, err := json.Marshal(attest.NewGateReport(tt.r, "r/x@sha256:1", attest.Build{BuilderID: attest.BuilderCLI}))
		if err != nil {
			t.Fatal(err)
		}
		if ok, why := admit(t, conds, js); ok != tt.admitted {
			t.Errorf("%v: admitted = %v (%s), want %v", tt.r.Results, ok, why, tt.admitted)
		}
	}
}
