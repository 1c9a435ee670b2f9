package recipe

import (
	"strings"
	"testing"
)

func TestForModule(t *testing.T) {
	const gomod = "module example.com/acme/billing/v2\n\ngo 1.24.3\n"
	tests := []struct {
		name   string
		o      Options
		gomod  string
		pinGo  bool
		want   Options // Name, GoVersion and Platform compared
		errHas string
	}{
		{name: "module root: the module path's last element, major version skipped", gomod: gomod,
			want: Options{Name: "billing", GoVersion: DefaultGoVersion, Platform: DefaultPlatform}},
		{name: "main package: its directory", o: Options{Main: "cmd/api"}, gomod: gomod,
			want: Options{Name: "api", GoVersion: DefaultGoVersion, Platform: DefaultPlatform}},
		{name: "a given name wins", o: Options{Name: "svc"}, gomod: gomod,
			want: Options{Name: "svc", GoVersion: DefaultGoVersion, Platform: DefaultPlatform}},
		{name: "the builder's Go from go.mod's go line", gomod: gomod, pinGo: true,
			want: Options{Name: "billing", GoVersion: "1.24", Platform: DefaultPlatform}},
		{name: "a toolchain line wins", gomod: gomod + "toolchain go1.26.8\n", pinGo: true,
			want: Options{Name: "billing", GoVersion: "1.26.8", Platform: DefaultPlatform}},
		{name: "a given Go version wins", o: Options{GoVersion: "1.25"}, gomod: gomod, pinGo: true,
			want: Options{Name: "billing", GoVersion: "1.25", Platform: DefaultPlatform}},
		{name: "no module line", gomod: "go 1.24\n", errHas: "no module line"},
		{name: "a bad go.mod, when the Go version is read", o: Options{Name: "x"}, gomod: "module x\ngo banana split\n", pinGo: true, errHas: "source: go.mod"},
		{name: "the rest is validated", o: Options{Platform: "windows/amd64"}, gomod: gomod, errHas: "only linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.ForModule([]byte(tt.gomod), tt.pinGo)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want.Name || got.GoVersion != tt.want.GoVersion || got.Platform != tt.want.Platform {
				t.Errorf("name %q, go %q, platform %q; want %q, %q, %q", got.Name, got.GoVersion, got.Platform, tt.want.Name, tt.want.GoVersion, tt.want.Platform)
			}
		})
	}
}
