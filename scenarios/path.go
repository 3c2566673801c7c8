package scenarios

import (
	"fmt"

	"github.com/cdcbench/cdcbench/internal/driver"
)

// ParsedPaths returns s.Paths parsed, in order, against the path kinds
// internal/driver registers (driver.ParsePath).
func (s Spec) ParsedPaths() ([]driver.Path, error) {
	out := make([]driver.Path, len(s.Paths))
	for i, name := range s.Paths {
		p, err := driver.ParsePath(name)
		if err != nil {
			return nil, fmt.Errorf("scenarios: paths[%d]: %w", i, err)
		}
		out[i] = p
	}
	return out, nil
}
