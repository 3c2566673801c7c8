package driver_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/driver"
)

// TestNoKindOutsideDriver holds what makes a new capture one driver file:
// no Go file outside internal/driver spells a path kind or a path name
// ("cdc", "debezium-tuned", "poll-100ms"); scenarios, the runner, the
// reports and the estimates ask the registry, and scenario files (YAML)
// and tests name paths freely. A literal that only shares a kind's
// spelling, such as the --cdc flag's name, says so with a comment on its
// line containing "not a path".
func TestNoKindOutsideDriver(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (path == self || strings.HasPrefix(d.Name(), ".")):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		files++
		for _, hit := range kindLiterals(t, path) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%s: a path kind outside internal/driver: ask the registry (driver.ParsePath, driver.TraitsOf) instead", rel, hit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("scanned %d Go files under %s, want the module's", files, root)
	}
}

// kindLiterals returns "line: literal" for each string literal of file
// that names a registered kind or parses as a path, struct tags, import
// paths and lines marked "not a path" aside.
func kindLiterals(t *testing.T, file string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	marked := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.Contains(c.Text, "not a path") {
				marked[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	kinds := map[string]bool{}
	for _, k := range driver.Kinds() {
		kinds[k.Name] = true
	}
	var hits []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ImportSpec:
			return false
		case *ast.Field:
			n.Tag = nil // a JSON field's name is not a path
		case *ast.BasicLit:
			s, err := strconv.Unquote(n.Value)
			if n.Kind != token.STRING || err != nil {
				return true
			}
			_, perr := driver.ParsePath(s)
			if line := fset.Position(n.Pos()).Line; (kinds[s] || perr == nil) && !marked[line] {
				hits = append(hits, strconv.Itoa(line)+": "+n.Value)
			}
		}
		return true
	})
	return hits
}
