// Command compose-check validates a Compose file with compose-go, the loader Docker Compose
// itself uses (there is no Docker engine on the machines that run kfs's tests): the
// compose-spec JSON schema, interpolation of ${VARIABLES} with their defaults, and the model's
// consistency checks (depends_on targets, profiles, networks and volumes used). With -json it
// prints the loaded project, every profile enabled, so tests can read the resolved services.
//
//	go run ./scripts/compose -f docker-compose.yml [-json]
//
// Exit 0: valid; 1: the loader's error on stderr; 2: usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	file := flag.String("f", "docker-compose.yml", "the Compose file")
	asJSON := flag.Bool("json", false, "print the loaded project as JSON")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "compose-check: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	path, err := filepath.Abs(*file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(2)
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(path),
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		// No variables from the caller's environment: the file's own defaults must be enough.
		Environment: types.Mapping{},
	}
	project, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("kfs", true)
		o.Profiles = []string{"*"}
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %s: %v\n", *file, err)
		os.Exit(1)
	}
	if *asJSON {
		out, err := json.MarshalIndent(project, "", "  ")
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(string(out))
		return
	}
	fmt.Printf("%s: valid (%d services)\n", *file, len(project.Services))
}
