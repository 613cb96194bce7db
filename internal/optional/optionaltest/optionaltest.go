// Package optionaltest checks, for their tests, the packages whose
// optional interfaces callers find with As (see package optional): a
// test fails when an interface declared in the package is not in its
// list, or when code finds one with a type assertion, which a decorator
// would defeat.
package optionaltest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Module is the module path, for finding the imports of a package.
const Module = "github.com/kmip-adapter/kmip-adapter"

// Package describes a package with optional interfaces, as its test sees
// it (the working directory is the package's directory).
type Package struct {
	// Dir is the package's path from the module root ("backend").
	Dir string
	// Name is the package name, Core its core interface ("Backend").
	Name, Core string
	// Optional is the package's list of optional interfaces.
	Optional []reflect.Type
}

// CheckListed fails t unless every exported interface declared in the
// package's non-test files, except Core, is in Optional.
func (p Package) CheckListed(t *testing.T) {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var declared []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(af, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() || ts.Name.Name == p.Core {
				return true
			}
			if _, ok := ts.Type.(*ast.InterfaceType); ok {
				declared = append(declared, ts.Name.Name)
			}
			return true
		})
	}
	var listed []string
	for _, t := range p.Optional {
		listed = append(listed, t.Name())
	}
	sort.Strings(declared)
	sort.Strings(listed)
	assert.Equal(t, declared, listed, "%s.Optional must list every optional interface", p.Name)
}

// CheckNoAssertions fails t for every type assertion (or type switch
// case) to one of the package's optional interfaces in the module's Go
// files, tests included: callers find them with the package's As, or a
// decorator between them and the value (the metrics one) would hide the
// capability. Interface guards (var _ I = ...) are not assertions.
func (p Package) CheckNoAssertions(t *testing.T) {
	t.Helper()
	optional := map[string]bool{}
	for _, it := range p.Optional {
		optional[it.Name()] = true
	}
	root := strings.Repeat("../", strings.Count(p.Dir, "/")+1)
	importPath := path.Join(Module, p.Dir)
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && file != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(file, ".go") {
			return nil
		}
		af, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		inPackage := filepath.Clean(filepath.Dir(file)) == filepath.Clean(filepath.Join(root, p.Dir)) && af.Name.Name == p.Name
		qualifier := importName(af, importPath)
		isOptional := func(e ast.Expr) bool {
			switch e := e.(type) {
			case *ast.Ident:
				return inPackage && optional[e.Name]
			case *ast.SelectorExpr:
				x, ok := e.X.(*ast.Ident)
				return ok && qualifier != "" && x.Name == qualifier && optional[e.Sel.Name]
			}
			return false
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeAssertExpr:
				if n.Type != nil && isOptional(n.Type) {
					found = append(found, fset.Position(n.Pos()).String())
				}
			case *ast.TypeSwitchStmt:
				for _, c := range n.Body.List {
					for _, e := range c.(*ast.CaseClause).List {
						if isOptional(e) {
							found = append(found, fset.Position(e.Pos()).String())
						}
					}
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, found, "find the optional interfaces of package %s with %s.As, not a type assertion", p.Name, p.Name)
}

// importName is the name under which af imports importPath, or "".
func importName(af *ast.File, importPath string) string {
	for _, is := range af.Imports {
		if p, err := strconv.Unquote(is.Path.Value); err != nil || p != importPath {
			continue
		}
		if is.Name != nil {
			return is.Name.Name
		}
		return path.Base(importPath)
	}
	return ""
}
