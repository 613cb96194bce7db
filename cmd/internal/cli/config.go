package cli

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// EnvPrefix prefixes every configuration environment variable:
// server.listen is KMIP_ADAPTER_SERVER_LISTEN.
const EnvPrefix = "KMIP_ADAPTER"

// LoadConfig reads the configuration: defaults, then the YAML file at path
// (if not empty), then environment variables, then the flags named in
// flagKeys (configuration key -> flag name) that were set. Unknown keys
// and bad values are refused with one line naming the key; the result is
// validated.
func LoadConfig(path string, flags *pflag.FlagSet, flagKeys map[string]string) (config.Config, error) {
	v := viper.New()
	defaults := config.Default()
	known := map[string]bool{}
	for key, val := range Keys(defaults) {
		known[key] = true
		v.SetDefault(key, val)
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return config.Config{}, fmt.Errorf("config file %s: %s", path, oneLine(err))
		}
		var unknown []string
		for _, key := range v.AllKeys() {
			if !known[key] {
				unknown = append(unknown, key)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return config.Config{}, fmt.Errorf("config file %s: unknown key %q", path, unknown[0])
		}
	}
	for key, name := range flagKeys {
		if f := flags.Lookup(name); f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return config.Config{}, fmt.Errorf("flag --%s: %w", name, err)
			}
		}
	}
	cfg := config.Config{}
	for key := range known {
		if err := setKey(&cfg, key, v.Get(key)); err != nil {
			return config.Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// Keys lists every configuration key ("server.listen") with its value in c.
func Keys(c config.Config) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			key := t.Field(i).Tag.Get("mapstructure")
			if prefix != "" {
				key = prefix + "." + key
			}
			f := v.Field(i)
			if f.Kind() == reflect.Struct {
				walk(key, f)
				continue
			}
			out[key] = f.Interface()
		}
	}
	walk("", reflect.ValueOf(c))
	return out
}

// setKey converts raw (from YAML, the environment or a flag) to the type of
// the field behind key and stores it, naming the key in any error.
func setKey(c *config.Config, key string, raw any) error {
	f := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(key, ".") {
		t := f.Type()
		found := false
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("mapstructure") == part {
				f, found = f.Field(i), true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: unknown key", key)
		}
	}
	val, err := convert(f.Type(), raw)
	if err != nil {
		return fmt.Errorf("%s: %v", key, err)
	}
	f.Set(val)
	return nil
}

var durationType = reflect.TypeOf(time.Duration(0))

func convert(t reflect.Type, raw any) (reflect.Value, error) {
	if raw == nil {
		return reflect.Zero(t), nil
	}
	rv := reflect.ValueOf(raw)
	if rv.Type() == t {
		return rv, nil
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String {
		return stringList(raw)
	}
	s := fmt.Sprint(raw)
	switch {
	case t == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a duration (for example 30s, 5m)", s)
		}
		return reflect.ValueOf(d), nil
	case t.Kind() == reflect.String:
		if rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice {
			return reflect.Value{}, errors.New("must be a single value")
		}
		return reflect.ValueOf(s).Convert(t), nil
	case t.Kind() == reflect.Int:
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != s {
			return reflect.Value{}, fmt.Errorf("%q is not an integer", s)
		}
		return reflect.ValueOf(n).Convert(t), nil
	case t.Kind() == reflect.Uint:
		var n uint64
		if _, err := fmt.Sscan(s, &n); err != nil {
			if _, err := fmt.Sscanf(s, "0x%x", &n); err != nil {
				return reflect.Value{}, fmt.Errorf("%q is not an unsigned integer", s)
			}
		}
		return reflect.ValueOf(n).Convert(t), nil
	case t.Kind() == reflect.Bool:
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return reflect.ValueOf(true), nil
		case "false", "0", "no":
			return reflect.ValueOf(false), nil
		}
		return reflect.Value{}, fmt.Errorf("%q is not true or false", s)
	}
	return reflect.Value{}, fmt.Errorf("unsupported setting type %s", t)
}

// stringList reads a list setting: a YAML sequence, or a comma-separated
// string (from an environment variable or a flag).
func stringList(raw any) (reflect.Value, error) {
	var out []string
	switch v := raw.(type) {
	case []string:
		out = v
	case []any:
		for _, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				return reflect.Value{}, errors.New("must be a list of strings")
			}
			out = append(out, fmt.Sprint(e))
		}
	case string:
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	default:
		return reflect.Value{}, errors.New("must be a list of strings")
	}
	return reflect.ValueOf(out), nil
}

// oneLine folds a multi-line error (yaml and viper ones are) into one line.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}
