package localnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/creachadair/tomledit"
	"github.com/creachadair/tomledit/parser"
)

// MergeGenesis merges overrides into the genesis file at path: maps are merged
// key by key, any other value replaces what is there (Ignite's semantics).
// Numbers are kept exactly as written (genesis files carry 64-bit integers, mostly
// as strings).
func MergeGenesis(path string, overrides map[string]any) error {
	if len(overrides) == 0 {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	merged, ok := mergeValue(doc, overrides).(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the genesis overrides must be a map", path)
	}
	out, err := json.MarshalIndent(merged, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func mergeValue(base, over any) any {
	bm, bok := base.(map[string]any)
	om, ook := over.(map[string]any)
	if !bok || !ook {
		return over
	}
	for k, v := range om {
		bm[k] = mergeValue(bm[k], v)
	}
	return bm
}

// EditTOML sets the settings in overrides (nested maps are TOML tables) in the
// TOML file at path, keeping its comments and layout. Setting a key that the file
// does not have is an error: it is almost always a typo.
func EditTOML(path string, overrides map[string]any) error {
	if len(overrides) == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	doc, err := tomledit.Parse(f)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	settings := map[string]any{}
	flatten(nil, overrides, settings)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		entry := doc.First(strings.Split(k, ".")...)
		if entry == nil || !entry.IsMapping() {
			return fmt.Errorf("%s: no setting %q", path, k)
		}
		lit, err := tomlLiteral(settings[k])
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, k, err)
		}
		v, err := parser.ParseValue(lit)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, k, err)
		}
		entry.Value = v
	}
	var buf bytes.Buffer
	if err := tomledit.Format(&buf, doc); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func flatten(prefix []string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := append(append([]string{}, prefix...), k)
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[strings.Join(key, ".")] = v
	}
}

// tomlLiteral writes a YAML-decoded scalar or list as a TOML value.
func tomlLiteral(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := tomlLiteral(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	default:
		return "", fmt.Errorf("unsupported value %v (%T)", v, v)
	}
}
