// Command grafana-dashboard checks Grafana dashboard JSON files against Grafana's own dashboard
// schema, as the Grafana Foundation SDK generates it from Grafana's schema definitions: a strict
// decode (an unknown or ill-typed field anywhere, panels and Prometheus queries included, is an
// error) followed by the schema's constraints (Validate). Grafana publishes no offline JSON Schema
// validator of its own; this is the same schema in the form its SDK ships.
//
//	go run ./scripts/grafana-dashboard ops/grafana/dashboards/kfs.json
//
// Exit 0: every file is valid (prints the panel count); 1: errors on stderr; 2: usage.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: grafana-dashboard <dashboard.json>...")
		os.Exit(2)
	}
	// Panel options and queries are typed by plugin (timeseries, prometheus, …): without the
	// registrations they would decode as untyped maps and nothing in them would be checked.
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, file := range os.Args[1:] {
		fmt.Println("Checking", file)
		if err := check(file); err != nil {
			failed = true
			fmt.Fprintf(os.Stderr, "  FAILED:\n%s\n", err)
			continue
		}
	}
	if failed {
		os.Exit(1)
	}
}

// failure: the SDK returns its error list typed even when it is empty (a non-nil error interface
// holding no error); only a list with entries, or another error, is a failure.
func failure(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

func check(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var d dashboard.Dashboard
	if err := failure(d.UnmarshalJSONStrict(raw)); err != nil {
		return err
	}
	if err := failure(d.Validate()); err != nil {
		return err
	}
	fmt.Printf("  SUCCESS: %d panels\n", len(d.Panels))
	return nil
}
