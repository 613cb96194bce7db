package cli

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// RenderYAML writes c as a configuration file that LoadConfig reads back to
// the same values. It walks the same keys LoadConfig knows, so the file
// cannot drift from the struct.
func RenderYAML(c config.Config, header string) ([]byte, error) {
	root := map[string]any{}
	for key, val := range Keys(c) {
		if d, ok := val.(time.Duration); ok {
			val = d.String()
		}
		if u, ok := val.(uint); ok && u > 0xFFFF {
			val = fmt.Sprintf("0x%X", u)
		}
		parts := strings.Split(key, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = val
	}
	body, err := yaml.Marshal(root)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		b.WriteString("# " + line + "\n")
	}
	b.Write(body)
	return []byte(b.String()), nil
}
