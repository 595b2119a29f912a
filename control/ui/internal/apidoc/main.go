// Command apidoc writes the control API's OpenAPI document (the one control
// serves at /api/openapi.json) to stdout; build.sh --gen-api turns it into
// src/api.gen.ts.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/switchyard/switchyard/control/internal/api"
)

func main() {
	b, err := json.MarshalIndent(api.Document(), "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
	b = append(b, '\n')
	if _, err := os.Stdout.Write(b); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}
