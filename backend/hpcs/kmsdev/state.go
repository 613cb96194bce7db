package kmsdev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// The state file (Config.StateFile): JSON, mode 0600, replaced atomically.
type stateFile struct {
	InstanceID string     `json:"instance_id"`
	APIKeys    []string   `json:"api_keys"`
	Keys       []stateKey `json:"keys"`
}

type stateKey struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	KeyRing     string         `json:"key_ring"`
	Extractable bool           `json:"extractable"`
	Imported    bool           `json:"imported,omitempty"`
	State       int            `json:"state"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
	Rotated     time.Time      `json:"rotated"`
	Payload     []byte         `json:"payload,omitempty"`
	Versions    []stateVersion `json:"versions"`
}

type stateVersion struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Material []byte    `json:"material,omitempty"`
}

// load reads the state file, if it exists.
func (s *Server) load() error {
	data, err := os.ReadFile(s.state)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kmsdev: state file: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("kmsdev: state file %s: %w", s.state, err)
	}
	if s.instance == "" {
		s.instance = st.InstanceID
	}
	if len(s.apiKeys) == 0 {
		s.apiKeys = st.APIKeys
	}
	for _, sk := range st.Keys {
		k := &key{
			id: sk.ID, name: sk.Name, description: sk.Description, keyRing: sk.KeyRing, extractable: sk.Extractable,
			imported: sk.Imported, state: sk.State, created: sk.Created, updated: sk.Updated, rotated: sk.Rotated, payload: sk.Payload,
		}
		for _, sv := range sk.Versions {
			v := &version{id: sv.ID, created: sv.Created}
			if !k.extractable {
				nv, err := newVersion(sv.Material, sv.Created)
				if err != nil {
					return fmt.Errorf("kmsdev: state file: key %s: %w", sk.ID, err)
				}
				v = nv
				v.id = sv.ID
			}
			k.versions = append(k.versions, v)
		}
		if len(k.versions) == 0 {
			return fmt.Errorf("kmsdev: state file: key %s has no version", sk.ID)
		}
		s.keys[k.id] = k
		s.order = append(s.order, k.id)
	}
	return nil
}

// save writes the state file (s.mu held); without one it does nothing.
func (s *Server) save() error {
	if s.state == "" {
		return nil
	}
	st := stateFile{InstanceID: s.instance, APIKeys: s.apiKeys, Keys: []stateKey{}}
	for _, id := range s.order {
		k := s.keys[id]
		sk := stateKey{
			ID: k.id, Name: k.name, Description: k.description, KeyRing: k.keyRing, Extractable: k.extractable,
			Imported: k.imported, State: k.state, Created: k.created, Updated: k.updated, Rotated: k.rotated, Payload: k.payload,
		}
		for _, v := range k.versions {
			sk.Versions = append(sk.Versions, stateVersion{ID: v.id, Created: v.created, Material: v.material})
		}
		st.Keys = append(st.Keys, sk)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.state), ".kmsdev-state-*")
	if err != nil {
		return fmt.Errorf("kmsdev: state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("kmsdev: state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("kmsdev: state file: %w", err)
	}
	return os.Rename(tmp.Name(), s.state)
}

// Info is what GET /kmsdev/info tells a loopback client (`kmipctl dev
// init --kms-url`): enough to configure the hpcs backend against this
// stand-in. It carries the API key: the stand-in is for development.
type Info struct {
	InstanceID string   `json:"instance_id"`
	APIKey     string   `json:"api_key"`
	RootKeys   []string `json:"root_keys"`
	IAMPath    string   `json:"iam_path"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		writeError(w, http.StatusForbidden, "Forbidden: the info endpoint answers loopback clients only", "RESOURCE_OWNER_ERR", "loopback only")
		return
	}
	writeJSON(w, http.StatusOK, Info{InstanceID: s.instance, APIKey: s.APIKey(), RootKeys: s.RootKeyIDs(), IAMPath: "/identity/token"})
}
