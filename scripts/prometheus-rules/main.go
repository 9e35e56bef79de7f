// Command prometheus-rules checks Prometheus rule files the way `promtool check rules` does,
// with Prometheus's own code: rulefmt.ParseFile (strict YAML, every expression parsed by the
// PromQL parser, labels and annotation templates validated) and promtool's duplicate-rule lint.
// promtool itself is a build of the whole Prometheus module (every service-discovery client);
// this is the part of it that checks rules, and builds in seconds.
//
//	go run ./scripts/prometheus-rules ops/prometheus/alerts.yml
//
// Exit 0: every file is valid (prints the rule count); 1: errors on stderr; 2: usage.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prometheus-rules <rule file>...")
		os.Exit(2)
	}
	// As promtool: UTF-8 metric and label names, the default PromQL parser.
	p := parser.NewParser(parser.Options{})
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	failed := false
	for _, file := range os.Args[1:] {
		fmt.Println("Checking", file)
		groups, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, p, logger)
		if len(errs) == 0 {
			if dups := duplicates(groups); len(dups) > 0 {
				errs = append(errs, fmt.Errorf("%d duplicate rule(s) found: %s", len(dups), strings.Join(dups, ", ")))
			}
		}
		if len(errs) > 0 {
			failed = true
			fmt.Fprintln(os.Stderr, "  FAILED:")
			for _, err := range errs {
				fmt.Fprintln(os.Stderr, err.Error())
			}
			continue
		}
		n := 0
		for _, g := range groups.Groups {
			n += len(g.Rules)
		}
		fmt.Printf("  SUCCESS: %d rules found\n", n)
	}
	if failed {
		os.Exit(1)
	}
}

// duplicates: rules with the same alert or record name and the same labels (group labels
// overridden by the rule's), which promtool reports as inconsistent recordings.
func duplicates(groups *rulefmt.RuleGroups) []string {
	seen := map[string]int{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			labels := map[string]string{}
			for k, v := range g.Labels {
				labels[k] = v
			}
			for k, v := range r.Labels {
				labels[k] = v
			}
			keys := make([]string, 0, len(labels))
			for k := range labels {
				keys = append(keys, k+"="+labels[k])
			}
			sort.Strings(keys)
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			seen[name+"{"+strings.Join(keys, ",")+"}"]++
		}
	}
	var out []string
	for k, n := range seen {
		if n > 1 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
