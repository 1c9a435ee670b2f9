package config_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"dagger/go-image/internal/config"
	"dagger/go-image/internal/size"
)

// validate checks doc against the subset of JSON Schema GenerateSchema
// writes (type, properties, additionalProperties, propertyNames, items,
// enum, pattern, minimum, maximum, minLength), as an editor would.
func validate(schema map[string]any, doc any, at string) error {
	switch schema["type"] {
	case "object":
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object", at)
		}
		props, _ := schema["properties"].(map[string]any)
		for k, v := range m {
			if pn, ok := schema["propertyNames"].(map[string]any); ok {
				if err := validate(map[string]any{"type": "string", "enum": pn["enum"], "pattern": pn["pattern"]}, k, at+"."+k); err != nil {
					return err
				}
			}
			sub, ok := props[k].(map[string]any)
			if !ok {
				ap, isSchema := schema["additionalProperties"].(map[string]any)
				if !isSchema {
					return fmt.Errorf("%s.%s: not allowed", at, k)
				}
				sub = ap
			}
			if err := validate(sub, v, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		l, ok := doc.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array", at)
		}
		for i, e := range l {
			if err := validate(schema["items"].(map[string]any), e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		s, ok := doc.(string)
		if !ok {
			return fmt.Errorf("%s: want a string", at)
		}
		if e, ok := schema["enum"].([]any); ok && !slices.Contains(e, any(s)) {
			return fmt.Errorf("%s: %q not in %v", at, s, e)
		}
		if e, ok := schema["enum"].([]string); ok && !slices.Contains(e, s) {
			return fmt.Errorf("%s: %q not in %v", at, s, e)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			return fmt.Errorf("%s: %q does not match %s", at, s, p)
		}
		if n, ok := schema["minLength"].(float64); ok && len(s) < int(n) {
			return fmt.Errorf("%s: shorter than %v", at, n)
		}
	case "integer":
		n, ok := doc.(int)
		if !ok {
			return fmt.Errorf("%s: want an integer", at)
		}
		if m, ok := schema["minimum"].(float64); ok && float64(n) < m {
			return fmt.Errorf("%s: below %v", at, m)
		}
		if m, ok := schema["maximum"].(float64); ok && float64(n) > m {
			return fmt.Errorf("%s: above %v", at, m)
		}
	case "boolean":
		if _, ok := doc.(bool); !ok {
			return fmt.Errorf("%s: want a boolean", at)
		}
	}
	return nil
}

func schema(t *testing.T) map[string]any {
	var s map[string]any
	if err := json.Unmarshal(config.SchemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaAgrees: an editor checking with the schema accepts the files
// go-image accepts and flags the ones it refuses for a reason the schema
// can express (a key, a type, an enum, a pattern, a range).
func TestSchemaAgrees(t *testing.T) {
	s := schema(t)
	check := func(src string) error {
		var doc any
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		return validate(s, doc, "")
	}
	for _, ok := range []string{good, "gates:\n  off:\n    lint: not a Kubernetes service\n", "binaries:\n  api:\n    gates:\n      maxSize: 10MiB\n"} {
		if _, err := config.Parse("go-image.yaml", []byte(ok)); err != nil {
			t.Fatalf("go-image refuses %q: %v", ok, err)
		}
		if err := check(ok); err != nil {
			t.Errorf("the schema refuses a file go-image accepts: %v\n%s", err, ok)
		}
	}
	for _, bad := range []string{
		"gates:\n  maxsize: 20MB\n",
		"build: {}\n",
		"gates:\n  maxSize: [20MB]\n",
		"recipe:\n  version: 1.10\n",
		"gates:\n  smoke:\n    probePort: eighty\n",
		"gates:\n  smoke:\n    probePort: 70000\n",
		"recipe:\n  sourceDateEpoch: 253402300800\n",
		"gates:\n  scan:\n    ignoreUnfixed: yes\n",
		"recipe:\n  main: ./cmd/...\n",
		"gates:\n  maxSize: 25M\n",
		"binaries:\n  api:\n    gates:\n      maxSize: 25M\n",
		"recipe:\n  base: distroless\n",
		"gates:\n  upx: sometimes\n",
		"gates:\n  off:\n    sbom: not needed\n",
		"gates:\n  skip:\n    harden/typo: because\n",
		"gates:\n  skip:\n    harden/no-setuid: \"\"\n",
		"binaries:\n  api:\n    recipe:\n      main: [./cmd/api]\n",
		"binaries:\n  ../x:\n    gates: {}\n",
	} {
		if _, err := config.Parse("go-image.yaml", []byte(bad)); err == nil {
			t.Fatalf("go-image accepts %q", bad)
		}
		if err := check(bad); err == nil {
			t.Errorf("the schema accepts a file go-image refuses:\n%s", bad)
		}
	}
}

// TestSchemaPatterns: the size pattern accepts what size.ParseBytes
// does, on the forms people write.
func TestSchemaPatterns(t *testing.T) {
	gates := schema(t)["properties"].(map[string]any)["gates"].(map[string]any)["properties"].(map[string]any)
	re := regexp.MustCompile(gates["maxSize"].(map[string]any)["pattern"].(string))
	for _, v := range []string{"25MB", "25 MB", "1.5GiB", "300kB", "300KB", "1048576", "10mib", "25M", "25 apples", "MB", "25MBs", "-1MB", "25 M B"} {
		_, err := size.ParseBytes(v)
		if re.MatchString(v) != (err == nil) && !strings.Contains(v, ".") {
			t.Errorf("size %q: pattern says %v, ParseBytes says %v", v, re.MatchString(v), err)
		}
	}
}
