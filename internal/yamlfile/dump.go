package yamlfile

import "go.yaml.in/yaml/v4"

// Dump renders v as cdcbench writes YAML (`scenarios show`, the scenario
// block of a report): two-space indents, lists indented under their key,
// quotes only where needed, and no line wrapped, so that a description
// stays one line.
func Dump(v any) ([]byte, error) {
	return yaml.Dump(v, yaml.WithIndent(2), yaml.WithCompactSeqIndent(false), yaml.WithLineWidth(-1), yaml.WithQuotePreference(yaml.QuoteLegacy))
}
