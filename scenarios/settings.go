package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/suggest"
)

// validateSettings checks the settings' shape offline: each entry names a
// Debezium path of the scenario and only settings a Debezium PostgreSQL
// connector or its producer knows, none that cdcbench sets itself. Whether
// Connect accepts the values is Connect's to say; the Debezium driver asks
// it before anything is produced.
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
		if p, err := ParsePath(name); err == nil && p.Kind != PathDebezium {
			v.add(field, "settings are for Debezium paths (debezium, debezium-<label>); %s has none", name)
			continue
		}
		kv := s.Settings[name]
		if len(kv) == 0 {
			v.add(field, "is empty: give settings, such as poll.interval.ms: 10, or remove it")
		}
		for _, key := range slices.Sorted(maps.Keys(kv)) {
			if err := connectorkeys.Check(key); err != nil {
				v.errs = append(v.errs, &FieldError{Field: field + "." + key, Err: err})
			} else if strings.TrimSpace(kv[key]) == "" {
				v.add(field+"."+key, "has no value (leave the key out for Debezium's default)")
			}
		}
	}
}
