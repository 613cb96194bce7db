package conformance

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Claimed are the profiles whose mandatory test cases the server claims
// (KMIP Profiles: Baseline, Symmetric Key Lifecycle and Foundry,
// Asymmetric Key Lifecycle, Opaque Managed Object Store, Storage Array
// with Self-Encrypting Drives, Tape Library, Basic and Advanced
// Cryptographic, RNG Cryptographic).
var Claimed = []string{"BL", "SKLC", "SKFF", "AKLC", "OMOS", "SASED", "TL", "CS-BC", "CS-AC", "CS-RNG"}

// File is one vector file.
type File struct {
	// Name is the file name without .xml: "SKLC-M-1-14".
	Name string
	Path string
	// Folder is the version folder: "v1.0" holds 1.0, 1.1 and 1.2 files.
	Folder  string
	Version Version
	// Profile is "SKLC", "CS-BC", "SUITEB_128", "MSGENC-HTTPS"...
	Profile string
	// Mandatory is false for the optional (-O-) test cases.
	Mandatory bool
	// Number is the test case number within the profile ("3" in
	// SKLC-M-3-14, "GCM-1" in CS-BC-M-GCM-1-14).
	Number string
}

// Claimed reports whether the server claims the file: a mandatory test
// case of a claimed profile.
func (f File) Claimed() bool {
	return f.Mandatory && slices.Contains(Claimed, f.Profile)
}

// Group is the profile name a summary counts the file under (MSGENC for
// MSGENC-HTTPS, SUITEB for SUITEB_128).
func (f File) Group() string {
	switch {
	case strings.HasPrefix(f.Profile, "MSGENC"):
		return "MSGENC"
	case strings.HasPrefix(f.Profile, "SUITEB"):
		return "SUITEB"
	}
	return f.Profile
}

// ParseName reads a vector file name: PROFILE-M|O-N-VV.
func ParseName(name string) (File, error) {
	f := File{Name: name}
	v, err := versionOfName(name)
	if err != nil {
		return f, err
	}
	f.Version = v
	rest := name[:len(name)-3]
	for _, kind := range []string{"-M-", "-O-"} {
		if i := strings.Index(rest, kind); i > 0 {
			f.Profile, f.Number, f.Mandatory = rest[:i], rest[i+3:], kind == "-M-"
			return f, nil
		}
	}
	return f, fmt.Errorf("file name %q is not PROFILE-M|O-N-VV", name)
}

// Discover lists the vector files under root (root/vX.Y/XML/{mandatory,
// optional}/*.xml), each once (the 1.3 folder has some optional files in
// both), in the order they run: by version, then profile, then number.
func Discover(root string) ([]File, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	byName := map[string]File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(path) != ".xml" {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		folder := strings.Split(filepath.ToSlash(rel), "/")[0]
		f, err := ParseName(strings.TrimSuffix(d.Name(), ".xml"))
		if err != nil {
			return err
		}
		f.Path, f.Folder = path, folder
		// Of two copies, keep the one in the folder of its kind.
		inOwnFolder := strings.Contains(filepath.ToSlash(rel), "/optional/") != f.Mandatory
		if _, dup := byName[f.Name]; !dup || inOwnFolder {
			byName[f.Name] = f
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("no vector file under %s", root)
	}
	files := make([]File, 0, len(byName))
	for _, f := range byName {
		files = append(files, f)
	}
	slices.SortFunc(files, compareFiles)
	return files, nil
}

// compareFiles orders files by version, profile, then test number (2
// before 10).
func compareFiles(a, b File) int {
	if c := cmp.Compare(a.Version.Major*10+a.Version.Minor, b.Version.Major*10+b.Version.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Profile, b.Profile); c != 0 {
		return c
	}
	if a.Mandatory != b.Mandatory {
		if a.Mandatory {
			return -1
		}
		return 1
	}
	an, aerr := strconv.Atoi(a.Number)
	bn, berr := strconv.Atoi(b.Number)
	if aerr == nil && berr == nil {
		return cmp.Compare(an, bn)
	}
	return cmp.Compare(a.Number, b.Number)
}

// dependent lists the files that must run after another, on the same
// server and with the same bindings: TL-M-2 after TL-M-1, TL-M-3 after
// TL-M-2, SASED-M-3 after SASED-M-2 (KMIP Profiles: the tape library and
// self-encrypting drive test cases continue each other).
var dependent = map[string][]string{
	"TL":    {"1", "2", "3"},
	"SASED": {"2", "3"},
}

// groups splits files into runs that share bindings: the dependent files
// of a version together, in order, every other file alone.
func groups(files []File) [][]File {
	var out [][]File
	index := map[string]int{}
	for _, f := range files {
		chain := dependent[f.Profile]
		if f.Mandatory && slices.Contains(chain, f.Number) {
			key := fmt.Sprintf("%s-%s", f.Profile, f.Version)
			if i, ok := index[key]; ok {
				out[i] = append(out[i], f)
				continue
			}
			index[key] = len(out)
		}
		out = append(out, []File{f})
	}
	for _, g := range out {
		slices.SortFunc(g, compareFiles)
	}
	return out
}
