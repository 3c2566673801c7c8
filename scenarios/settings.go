package scenarios

import (
	"fmt"
	"maps"
	"slices"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/suggest"
)

// validateSettings checks the settings' shape offline: each entry names a
// path of the scenario whose kind takes settings, and only settings that
// kind takes (driver.CheckSetting: for Debezium, what its PostgreSQL
// connector or its producer knows, none that cdcbench sets itself).
// Whether Connect accepts the values is Connect's to say; the Debezium
// driver asks it before anything is produced.
func (s Spec) validateSettings(v *validator) {
	for _, name := range slices.Sorted(maps.Keys(s.Settings)) {
		field := "settings." + name
		if !slices.Contains(s.Paths, name) {
			msg := fmt.Sprintf("names no path of this scenario (paths: %s)", quoteAll(s.Paths))
			if guess := suggest.Closest(name, s.Paths); guess != "" {
				msg += fmt.Sprintf("; did you mean %q?", guess)
			}
			v.add(field, "%s", msg)
			continue
		}
		p, err := driver.ParsePath(name)
		if err != nil {
			continue // validatePaths reports it
		}
		if err := driver.TakesSettings(p); err != nil {
			v.errs = append(v.errs, &FieldError{Field: field, Err: err})
			continue
		}
		kv := s.Settings[name]
		if len(kv) == 0 {
			v.add(field, "is empty: give settings, such as poll.interval.ms: 10, or remove it")
		}
		for _, key := range slices.Sorted(maps.Keys(kv)) {
			if err := driver.CheckSetting(p, key, kv[key]); err != nil {
				v.errs = append(v.errs, &FieldError{Field: field + "." + key, Err: err})
			}
		}
	}
}
