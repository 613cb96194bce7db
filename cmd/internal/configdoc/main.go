// Command configdoc writes the configuration reference (docs/configuration.md)
// from the code's own definitions: the keys and types of config.Config, the
// doc comments of its fields in config/config.go, and config.Default().
// `make docs` runs it; a test fails when the committed file is stale.
package main

import (
	"fmt"
	"os"
)

func main() {
	src := "config/config.go"
	if len(os.Args) > 1 {
		src = os.Args[1]
	}
	doc, err := Reference(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
	fmt.Print(doc)
}
