package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Issue is one problem found in a resource, as an OperationOutcome issue:
// Code is a FHIR IssueType (structure, required, value, code-invalid,
// not-supported), Expression the FHIRPath of the element.
type Issue struct {
	Code        string `json:"code"`
	Expression  string `json:"expression"`
	Diagnostics string `json:"diagnostics"`
}

func (i Issue) String() string { return i.Expression + ": " + i.Diagnostics }

// KnownResourceType reports whether t is a FHIR R4 resource type.
func KnownResourceType(t string) bool {
	_, ok := resourceTypes[t]
	return ok
}

// Limits of Validate: JSON nested deeper than MaxDepth is refused (FHIR
// resources nest a few levels; Extension.extension could recurse without
// end), and at most MaxIssues are reported.
const (
	MaxDepth  = 64
	MaxIssues = 100
)

// validation is the state of one Validate.
type validation struct {
	issues []Issue
	full   bool
}

func (v *validation) add(i Issue) {
	if len(v.issues) >= MaxIssues {
		if !v.full {
			v.full = true
			v.issues = append(v.issues, Issue{"too-costly", "", fmt.Sprintf("more than %d issues: fix these first", MaxIssues)})
		}
		return
	}
	v.issues = append(v.issues, i)
}

// Validate checks a resource against the FHIR R4 structure: a known
// resourceType, only elements the type defines, JSON types as the spec says
// (string, boolean, number, object, array; never null, never an empty array
// or string), every required element present (cardinality 1..), and codes from
// the required bindings the models carry (status, intent, gender, …). Contained
// resources and Bundle entries are checked the same way. It returns the
// resource type and every issue found (none: valid).
func Validate(raw []byte) (string, []Issue) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", []Issue{{Code: "structure", Expression: "", Diagnostics: "not valid JSON: " + err.Error()}}
	}
	// anything but white space after the value (another value, a stray ']'
	// that dec.More does not report: found by FuzzValidate) is not one
	// resource
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", []Issue{{Code: "structure", Diagnostics: "not valid JSON: more than one value"}}
	}
	st := &validation{}
	t := validateResource("", v, st, 0)
	return t, st.issues
}

// validateResource checks v as a resource at path (empty for the top) and
// returns its type.
func validateResource(path string, v any, issues *validation, depth int) string {
	if depth > MaxDepth || issues.full {
		issues.add(Issue{"too-costly", path, fmt.Sprintf("nested deeper than %d levels", MaxDepth)})
		return ""
	}
	obj, ok := v.(map[string]any)
	if !ok {
		issues.add(Issue{"structure", path, "a resource must be a JSON object"})
		return ""
	}
	rt, _ := obj["resourceType"].(string)
	typ, ok := resourceTypes[rt]
	if !ok {
		issues.add(Issue{
			"not-supported", join(path, "resourceType"),
			fmt.Sprintf("%q is not a FHIR R4 resource type", rt),
		})
		return rt
	}
	if path == "" {
		path = rt
	}
	validateObject(path, obj, typ, true, issues, depth+1)
	return rt
}

func join(path, elem string) string {
	if path == "" {
		return elem
	}
	return path + "." + elem
}

// field is one element of a model struct.
type field struct {
	typ      reflect.Type
	required bool
}

// model is what the validator knows of a model struct: its elements by JSON
// name, and its required choice elements ([x], min 1) by prefix.
type model struct {
	fields  map[string]field
	choices []string
}

var modelCache sync.Map // reflect.Type → *model

// choicePrefix is the name of the choice element a typed form belongs to
// (medicationReference → medication), or "" for a name with no type suffix.
func choicePrefix(name string) string {
	for i, r := range name {
		if unicode.IsUpper(r) {
			return name[:i]
		}
	}
	return ""
}

// modelOf returns the elements of a model struct. The models mark a required
// element by leaving out omitempty; for a required choice they mark every
// typed form, of which FHIR wants exactly one, so forms that share a prefix
// with another required form become one required choice.
func modelOf(t reflect.Type) *model {
	if m, ok := modelCache.Load(t); ok {
		return m.(*model)
	}
	m := &model{fields: map[string]field{}}
	byPrefix := map[string]int{}
	for sf := range t.Fields() {
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		required := opts != "omitempty" && sf.Type.Kind() != reflect.Pointer && sf.Type.Kind() != reflect.Slice
		m.fields[name] = field{typ: sf.Type, required: required}
		if p := choicePrefix(name); required && p != "" {
			byPrefix[p]++
		}
	}
	for p, n := range byPrefix {
		if n < 2 {
			continue
		}
		m.choices = append(m.choices, p)
		for name, f := range m.fields {
			if choicePrefix(name) == p {
				f.required = false
				m.fields[name] = f
			}
		}
	}
	slices.Sort(m.choices)
	modelCache.Store(t, m)
	return m
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	numberType      = reflect.TypeFor[json.Number]()
)

// validateObject checks the members of obj against the model struct t.
func validateObject(path string, obj map[string]any, t reflect.Type, resource bool, issues *validation, depth int) {
	m := modelOf(t)
	fields := m.fields
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // issues in a stable order
	for _, k := range keys {
		v := obj[k]
		p := join(path, k)
		switch {
		case resource && k == "resourceType":
			continue
		case resource && k == "contained":
			arr, ok := v.([]any)
			if !ok || len(arr) == 0 {
				issues.add(Issue{"structure", p, "must be a non-empty array of resources"})
				continue
			}
			for i, c := range arr {
				validateResource(fmt.Sprintf("%s[%d]", p, i), c, issues, depth+1)
			}
			continue
		case strings.HasPrefix(k, "_"): // a primitive's id and extensions
			if f, ok := fields[k[1:]]; ok && primitive(f.typ) {
				continue
			}
		}
		f, ok := fields[k]
		if !ok {
			issues.add(Issue{"structure", p, fmt.Sprintf("unknown element %q", k)})
			continue
		}
		validateValue(p, v, f.typ, issues, depth+1)
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if fields[name].required {
			if _, ok := obj[name]; !ok {
				if _, ext := obj["_"+name]; !ext {
					issues.add(Issue{"required", join(path, name), "required element missing (min 1)"})
				}
			}
		}
	}
	for _, p := range m.choices {
		if !slices.ContainsFunc(keys, func(k string) bool { return choicePrefix(k) == p && fields[k].typ != nil }) {
			issues.add(Issue{"required", join(path, p+"[x]"), "required element missing (min 1): one of its typed forms"})
		}
	}
}

// primitive reports whether t is a FHIR primitive in the models.
func primitive(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t.Kind() != reflect.Struct || t == numberType
}

// validateValue checks one element value v against the model type t.
func validateValue(path string, v any, t reflect.Type, issues *validation, depth int) {
	if depth > MaxDepth || issues.full {
		issues.add(Issue{"too-costly", path, fmt.Sprintf("nested deeper than %d levels", MaxDepth)})
		return
	}
	bad := func(code, format string, args ...any) {
		issues.add(Issue{code, path, fmt.Sprintf(format, args...)})
	}
	if v == nil {
		bad("structure", "null is not allowed in FHIR JSON: leave the element out")
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawMessageType: // a resource inside a Bundle entry or a response
		validateResource(path, v, issues, depth+1)
		return
	case t == numberType:
		if _, ok := v.(json.Number); !ok {
			bad("structure", "must be a JSON number")
		}
		return
	case t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && reflect.PointerTo(t).Implements(unmarshalerType):
		// a code with a required binding
		s, ok := v.(string)
		if !ok {
			bad("structure", "must be a JSON string (a code)")
			return
		}
		q, _ := json.Marshal(s)
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(q); err != nil {
			bad("code-invalid", "%q is not in the required value set", s)
		}
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			bad("structure", "must be a JSON array (the element repeats)")
			return
		}
		if len(arr) == 0 {
			bad("structure", "an empty array is not allowed in FHIR JSON: leave the element out")
		}
		for i, e := range arr {
			validateValue(fmt.Sprintf("%s[%d]", path, i), e, t.Elem(), issues, depth+1)
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			bad("structure", "must be a JSON object")
			return
		}
		validateObject(path, obj, t, false, issues, depth+1)
	case reflect.String:
		s, ok := v.(string)
		switch {
		case !ok:
			bad("structure", "must be a JSON string")
		case strings.TrimSpace(s) == "":
			bad("value", "an empty or blank string is not allowed in FHIR JSON")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("structure", "must be true or false")
		}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			bad("structure", "must be a JSON number")
			return
		}
		if _, err := n.Int64(); err != nil {
			bad("value", "must be an integer")
		}
	case reflect.Float64, reflect.Float32:
		if _, ok := v.(json.Number); !ok {
			bad("structure", "must be a JSON number")
		}
	}
}

// ResourceTypes lists the FHIR R4 resource types, sorted.
func ResourceTypes() []string {
	out := make([]string, 0, len(resourceTypes))
	for t := range resourceTypes {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
