package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json from the route table")

// The committed description matches the route table exactly: every route
// is described, nothing else is, and it is what the server serves.
func TestOpenAPI(t *testing.T) {
	h := newTestAPI(t, nil, nil)
	code, served := call(t, h, "GET", "/v1/openapi.json", "")
	if code != 200 {
		t.Fatalf("GET /v1/openapi.json: %d %s", code, served)
	}
	if *update {
		if err := os.WriteFile("openapi.json", append(served, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(committed, &doc); err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method := range ops {
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	table := []string{"GET /healthz"}
	for _, rt := range (&Server{}).routes() {
		table = append(table, rt.pattern)
	}
	slices.Sort(described)
	slices.Sort(table)
	for _, p := range table {
		if !slices.Contains(described, p) {
			t.Errorf("route %s is missing from api/openapi.json (run go test ./api -run TestOpenAPI -update)", p)
		}
	}
	for _, p := range described {
		if !slices.Contains(table, p) {
			t.Errorf("api/openapi.json describes %s, which is not in the route table", p)
		}
	}
	if !bytes.Equal(bytes.TrimSpace(committed), bytes.TrimSpace(served)) {
		t.Errorf("api/openapi.json is out of date with the route table or the wire types: run go test ./api -run TestOpenAPI -update")
	}
}
