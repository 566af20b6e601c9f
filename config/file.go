package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

const header = `# Plexus node configuration.
# Every setting is written out with its default; edit it here or with
# "plexus config set KEY VALUE" (which validates before saving).
# Changes take effect when the daemon restarts.
`

// Render returns c as a TOML document with every field and its comment.
func Render(c Config) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	rv, rt := reflect.ValueOf(c), reflect.TypeOf(c)
	for i := range rt.NumField() {
		sf := rt.Field(i)
		fmt.Fprintf(&b, "\n# %s\n[%s]\n", sf.Tag.Get("comment"), sf.Tag.Get("toml"))
		sv, st := rv.Field(i), sf.Type
		for j := range st.NumField() {
			f := st.Field(j)
			for _, line := range strings.Split(f.Tag.Get("comment"), "\n") {
				fmt.Fprintf(&b, "# %s\n", line)
			}
			var kv bytes.Buffer
			if err := toml.NewEncoder(&kv).Encode(map[string]any{f.Tag.Get("toml"): sv.Field(j).Interface()}); err != nil {
				return nil, fmt.Errorf("render %s.%s: %w", sf.Tag.Get("toml"), f.Tag.Get("toml"), err)
			}
			b.Write(kv.Bytes())
		}
	}
	return b.Bytes(), nil
}

// Parse decodes a config document on top of the defaults, rejecting unknown
// keys, and validates it.
func Parse(data []byte) (Config, error) {
	c := Default()
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return Config{}, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("unknown setting(s): %s", strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Load reads and validates the config file at path.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Save validates c and writes it to path atomically.
func Save(path string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := Render(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

// Keys lists every dotted setting name, such as "dht.mode".
func Keys() []string {
	var keys []string
	rt := reflect.TypeOf(Config{})
	for i := range rt.NumField() {
		sf := rt.Field(i)
		for j := range sf.Type.NumField() {
			keys = append(keys, sf.Tag.Get("toml")+"."+sf.Type.Field(j).Tag.Get("toml"))
		}
	}
	return keys
}

func field(c *Config, key string) (reflect.Value, error) {
	section, name, ok := strings.Cut(key, ".")
	if ok {
		rv := reflect.ValueOf(c).Elem()
		for i := range rv.NumField() {
			if rv.Type().Field(i).Tag.Get("toml") != section {
				continue
			}
			sv := rv.Field(i)
			for j := range sv.NumField() {
				if sv.Type().Field(j).Tag.Get("toml") == name {
					return sv.Field(j), nil
				}
			}
		}
	}
	return reflect.Value{}, fmt.Errorf("unknown setting %q (see \"plexus config show\" for the names)", key)
}

// Get returns the value of a dotted setting as JSON.
func Get(c Config, key string) (string, error) {
	v, err := field(&c, key)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(v.Interface())
	if err != nil {
		return "", err
	}
	if d, ok := v.Interface().(Duration); ok {
		out, _ = json.Marshal(d.String())
	}
	return string(out), nil
}

// Set parses value for the dotted setting key and stores it in c, then
// validates the result. Lists take a JSON array or comma-separated items.
func Set(c *Config, key, value string) error {
	v, err := field(c, key)
	if err != nil {
		return err
	}
	bad := func(want string, err error) error {
		return fmt.Errorf("%s: %q is not %s: %w", key, value, want, err)
	}
	switch ptr := v.Addr().Interface().(type) {
	case *Duration:
		if err := ptr.UnmarshalText([]byte(value)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	case *string:
		*ptr = value
	case *bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("true or false", err)
		}
		*ptr = b
	case *int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return bad("an integer", err)
		}
		*ptr = n
	case *[]string:
		var list []string
		if strings.HasPrefix(strings.TrimSpace(value), "[") {
			if err := json.Unmarshal([]byte(value), &list); err != nil {
				return bad("a JSON array of strings", err)
			}
		} else if strings.TrimSpace(value) != "" {
			for _, s := range strings.Split(value, ",") {
				list = append(list, strings.TrimSpace(s))
			}
		}
		*ptr = slices.DeleteFunc(list, func(s string) bool { return s == "" })
		if *ptr == nil {
			*ptr = []string{}
		}
	default:
		return fmt.Errorf("%s: settings of type %s cannot be set", key, v.Type())
	}
	return c.Validate()
}
