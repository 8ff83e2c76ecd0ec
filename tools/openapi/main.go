// Command openapi merges the OpenAPI (Swagger 2.0) descriptions that
// protoc-gen-swagger writes, one per proto file, into the single description the
// node serves: paths and definitions are united (a path or a definition that two
// files describe differently is an error), every operation gets a unique id (each
// file repeats ids such as "Query_Params"), and the output is written with stable
// formatting so that `make proto-check` can compare it. Run by scripts/protocgen.sh.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
)

func main() {
	out := flag.String("out", "", "where to write the merged description")
	flag.Parse()
	if err := run(flag.Args(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}

func run(inputs []string, out string) error {
	if len(inputs) == 0 || out == "" {
		return errors.New("usage: openapi -out FILE SPEC.json [SPEC.json ...]")
	}
	paths := map[string]any{}
	defs := map[string]any{}
	for _, in := range inputs {
		doc, err := readJSON(in)
		if err != nil {
			return err
		}
		if err := union(paths, doc["paths"], in, "path"); err != nil {
			return err
		}
		if err := union(defs, doc["definitions"], in, "definition"); err != nil {
			return err
		}
	}
	doc := map[string]any{
		"swagger": "2.0",
		"info": map[string]any{
			"title":       "healthd REST API",
			"version":     "v1",
			"description": "REST routes served by a healthd node (gRPC-gateway over the modules' gRPC query services). Generated from the proto files by `make proto-gen`; do not edit.",
		},
		"consumes":    []string{"application/json"},
		"produces":    []string{"application/json"},
		"paths":       paths,
		"definitions": defs,
	}
	if err := uniqueOperationIDs(doc); err != nil {
		return err
	}
	// encoding/json writes map keys sorted: the output is stable.
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func readJSON(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// union adds the entries of src (a JSON object) to dst. The same key may come
// from several files (a shared message such as PageRequest): its descriptions may
// differ (a file sees the comments of the protos it imports directly), so the
// entries are compared without their prose and the more documented one is kept.
// Any other difference is an error.
func union(dst map[string]any, src any, file, what string) error {
	m, _ := src.(map[string]any)
	for k, v := range m {
		prev, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		if !reflect.DeepEqual(withoutProse(prev), withoutProse(v)) {
			return fmt.Errorf("%s: %s %q is described differently by another file", file, what, k)
		}
		if proseLen(v) > proseLen(prev) {
			dst[k] = v
		}
	}
	return nil
}

// withoutProse returns v without its "description" and "title" entries.
func withoutProse(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "description" || k == "title" {
				continue
			}
			out[k] = withoutProse(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutProse(e)
		}
		return out
	default:
		return v
	}
}

// proseLen is the total length of the "description" and "title" texts in v.
func proseLen(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "description" || k == "title") {
				n += len(s)
				continue
			}
			n += proseLen(e)
		}
	case []any:
		for _, e := range x {
			n += proseLen(e)
		}
	}
	return n
}

// uniqueOperationIDs renames each operation "Service_Method" to
// "package.Service.Method" using the operation's tag (the proto package and
// service, thanks to include_package_in_tags), and fails on any id still repeated.
func uniqueOperationIDs(doc map[string]any) error {
	paths, _ := doc["paths"].(map[string]any)
	seen := map[string]string{}
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			o, ok := op.(map[string]any)
			if !ok {
				continue
			}
			id, _ := o["operationId"].(string)
			tags, _ := o["tags"].([]any)
			if id == "" || len(tags) == 0 {
				return fmt.Errorf("%s %s: operation without id or tag", method, path)
			}
			tag, _ := tags[0].(string)
			name := id[strings.LastIndex(id, "_")+1:]
			unique := tag + "." + name
			if prev, dup := seen[unique]; dup {
				return fmt.Errorf("operation id %s used by %s and %s %s", unique, prev, method, path)
			}
			seen[unique] = method + " " + path
			o["operationId"] = unique
		}
	}
	return nil
}
