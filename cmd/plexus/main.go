// Command plexus is both the Plexus daemon ("plexus daemon") and its
// command-line client: every other command talks to a running daemon over
// its HTTP API.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}
