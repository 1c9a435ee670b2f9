package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/config"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/safetext"
)

// runConfig prints the effective configuration of every binary of the
// source: each choice, its value, and where it came from (a flag, the
// policy file's line and column, or the default), after the same
// expansion and layering as build and release.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod)")
	format := fs.String("format", "text", "output format: text or json")
	schema := fs.Bool("schema", false, "print the JSON Schema of "+config.FileName+" instead, for editors (# yaml-language-server: $schema=…)")
	platforms := fs.String("platform", recipe.DefaultPlatform, "comma-separated target platforms")
	b.on(&c.Recipe.Platforms, "platform", func() error { c.Recipe.Platforms = strings.Split(*platforms, ","); return nil })
	pf := addPlanFlags(fs)
	addRecipeFlags(b)
	addGateFlags(b, "size gate: compressed size budget", "UPX gate: deny, warn or allow")
	for _, g := range []string{"scan", "lint", "smoke"} {
		addOffFlag(b, g, "switch the "+g+" gate off, with the REASON")
	}
	addScanFlags(b)
	addSmokeGateFlags(b)
	addLintFlags(b)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *schema {
		_, err := stdout.Write(config.SchemaJSON)
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usageError{fmt.Errorf("--format %q: use text or json", *format)}
	}
	if err := b.validate(); err != nil {
		return err
	}
	cfg, bins, err := pf.plan(ctx, *src, b)
	if err != nil {
		return err
	}
	if *format == "json" {
		type binary struct {
			Name     string            `json:"name"`
			Main     string            `json:"main"`
			Settings []choices.Setting `json:"settings"`
		}
		out := struct {
			Path     string   `json:"configPath,omitempty"`
			Digest   string   `json:"configDigest,omitempty"`
			Binaries []binary `json:"binaries"`
		}{}
		if cfg != nil {
			out.Path, out.Digest = cfg.Path, cfg.Digest
		}
		for _, bin := range bins {
			out.Binaries = append(out.Binaries, binary{bin.Name, bin.Main, bin.Settings()})
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(safetext.JSON(b), '\n'))
		return err
	}
	return writeConfig(stdout, cfg, bins)
}

// writeConfig writes each binary's settings as a table: field, value,
// origin. Every value is escaped: a flag may hold anything.
func writeConfig(w io.Writer, cfg *config.File, bins []plan.Binary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if cfg != nil {
		fmt.Fprintf(tw, "# policy file %s (%s)\n", safetext.Line(cfg.Path), cfg.Digest)
	} else {
		fmt.Fprintf(tw, "# no policy file (%s at the source root, or --config)\n", config.FileName)
	}
	for _, bin := range bins {
		fmt.Fprintf(tw, "\n# binary %s (%s)\n", safetext.Line(bin.Name), safetext.Line(bin.Main))
		for _, s := range bin.Settings() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", safetext.Line(s.Field), safetext.Line(s.Value), safetext.Line(s.From.String()))
		}
	}
	return tw.Flush()
}
