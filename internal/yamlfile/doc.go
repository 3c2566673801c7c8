// Package yamlfile holds how cdcbench reads and writes YAML files
// (go.yaml.in/yaml/v4, the maintained continuation of gopkg.in/yaml.v3):
// a syntax error worded from the decoder's own line and column, which
// scenario, agent-commands and gate files all report as file:line:
// message, and the one style every YAML cdcbench writes is in.
package yamlfile
