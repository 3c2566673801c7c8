package compose_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"go.yaml.in/yaml/v4"
)

const composeFile = "docker-compose.yml"

// file is the part of a compose file the checks read.
type file struct {
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
}

type service struct {
	Image       string                `yaml:"image"`
	Command     words                 `yaml:"command"`
	Environment env                   `yaml:"environment"`
	Ports       []string              `yaml:"ports"`
	Volumes     []string              `yaml:"volumes"`
	DependsOn   map[string]dependency `yaml:"depends_on"`
	Healthcheck *healthcheck          `yaml:"healthcheck"`
}

type dependency struct {
	Condition string `yaml:"condition"`
}

type healthcheck struct {
	Test    words `yaml:"test"`
	Disable bool  `yaml:"disable"`
}

// words is a command or test given either as a string or as a list.
type words []string

func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*w = l
	return nil
}

// env is an environment given as a map or as a list of KEY=VALUE.
type env map[string]string

func (e *env) UnmarshalYAML(n *yaml.Node) error {
	*e = env{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	m := map[string]string(*e)
	return n.Decode(&m)
}

func load(t *testing.T) file {
	t.Helper()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return f
}

// stack is what cdcbench's README and connect package rely on: the services,
// their images (repository and the versions that are acceptable), the host
// ports and what the health check must probe.
var stack = []struct {
	name      string
	repo      string
	version   *regexp.Regexp // an exact version, not a floating major or minor tag
	port      string
	probe     string
	dependsOn []string
}{
	{name: "postgres", repo: "postgres", version: regexp.MustCompile(`^17\.\d+$`), port: "5433:5432", probe: "pg_isready"},
	{name: "kafka", repo: "apache/kafka", version: regexp.MustCompile(`^(3\.9|4\.\d+)\.\d+$`), port: "9094:9094", probe: "/opt/kafka/bin/kafka-broker-api-versions.sh"},
	{name: "connect", repo: "quay.io/debezium/connect", version: regexp.MustCompile(`^3\.\d+\.\d+\.Final$`), port: "8083:8083", probe: "http://localhost:8083/", dependsOn: []string{"kafka", "postgres"}},
	{name: "kafka-ui", repo: "kafbat/kafka-ui", version: regexp.MustCompile(`^v1\.\d+\.\d+$`), port: "8080:8080", probe: "http://localhost:8080/actuator/health", dependsOn: []string{"connect", "kafka"}},
}

// checks are the structural rules, each named for its subtest; each returns
// every problem it finds.
var checks = []struct {
	name string
	fn   func(f file) []error
}{
	{"services", checkServices},
	{"pinned images", checkImages},
	{"health checks", checkHealth},
	{"ports", checkPorts},
	{"start order", checkStartOrder},
	{"logical WAL", checkPostgres},
	{"kafka KRaft listeners", checkKafka},
	{"connect worker", checkConnect},
	{"kafka ui", checkUI},
	{"volumes", checkVolumes},
}

func TestComposeFile(t *testing.T) {
	f := load(t)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, err := range c.fn(f) {
				t.Error(err)
			}
		})
	}
}

// TestChecksCatchMistakes breaks the real file in one place per case and
// requires the named check to notice, so that TestComposeFile can fail.
func TestChecksCatchMistakes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		check  string
		mutate func(f file)
	}{
		{"latest tag", "pinned images", func(f file) { f.Services["postgres"].Image = "postgres:latest" }},
		{"floating minor tag", "pinned images", func(f file) { f.Services["connect"].Image = "quay.io/debezium/connect:3.4" }},
		{"no tag", "pinned images", func(f file) { f.Services["kafka"].Image = "apache/kafka" }},
		{"unmaintained ui", "pinned images", func(f file) { f.Services["kafka-ui"].Image = "provectuslabs/kafka-ui:v0.7.2" }},
		{"postgres 16", "pinned images", func(f file) { f.Services["postgres"].Image = "postgres:16.4" }},
		{"missing service", "services", func(f file) { delete(f.Services, "kafka-ui") }},
		{"no health check", "health checks", func(f file) { f.Services["connect"].Healthcheck = nil }},
		{"disabled health check", "health checks", func(f file) { f.Services["kafka"].Healthcheck.Disable = true }},
		{"health check probing the wrong port", "health checks", func(f file) {
			f.Services["connect"].Healthcheck.Test = words{"CMD-SHELL", "curl -fsS http://localhost:8084/"}
		}},
		{"kafka on 9092", "ports", func(f file) { f.Services["kafka"].Ports = []string{"9092:9092"} }},
		{"started, not healthy", "start order", func(f file) {
			f.Services["connect"].DependsOn["kafka"] = dependency{Condition: "service_started"}
		}},
		{"replica WAL", "logical WAL", func(f file) {
			f.Services["postgres"].Command = words{"postgres", "-c", "wal_level=replica"}
		}},
		{"external listener advertised on its container name", "kafka KRaft listeners", func(f file) {
			f.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"] = "INTERNAL://kafka:9092,EXTERNAL://kafka:9094"
		}},
		{"replication factor 3", "kafka KRaft listeners", func(f file) {
			f.Services["kafka"].Environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] = "3"
		}},
		{"string converter", "connect worker", func(f file) {
			f.Services["connect"].Environment["VALUE_CONVERTER"] = "org.apache.kafka.connect.storage.StringConverter"
		}},
		{"schemas off", "connect worker", func(f file) {
			f.Services["connect"].Environment["CONNECT_KEY_CONVERTER_SCHEMAS_ENABLE"] = "false"
		}},
		{"uncompressed batches", "connect worker", func(f file) {
			delete(f.Services["connect"].Environment, "CONNECT_PRODUCER_COMPRESSION_TYPE")
		}},
		{"rest api on the container ip only", "connect worker", func(f file) {
			delete(f.Services["connect"].Environment, "CONNECT_LISTENERS")
		}},
		{"connect on the host listener", "connect worker", func(f file) {
			f.Services["connect"].Environment["BOOTSTRAP_SERVERS"] = "localhost:9094"
		}},
		{"ui without connect", "kafka ui", func(f file) {
			delete(f.Services["kafka-ui"].Environment, "KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS")
		}},
		{"undeclared volume", "volumes", func(f file) { delete(f.Volumes, "pgdata") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := load(t)
			tc.mutate(f)
			for _, c := range checks {
				if c.name == tc.check {
					if errs := c.fn(f); len(errs) == 0 {
						t.Errorf("check %q accepted the broken file", tc.check)
					}
					return
				}
			}
			t.Fatalf("no check named %q", tc.check)
		})
	}
}

// TestDockerComposeConfig lets Docker Compose itself validate the file where
// the CLI has the compose plugin (it needs no engine for `config`).
func TestDockerComposeConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("docker compose is not available here (%v: %s); TestComposeFile checked the structure only",
			err, strings.TrimSpace(string(out)))
	}
	out, err := exec.CommandContext(ctx, "docker", "compose", "-f", composeFile, "config", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}

func checkServices(f file) []error {
	var errs []error
	var want []string
	for _, s := range stack {
		want = append(want, s.name)
		if f.Services[s.name] == nil {
			errs = append(errs, fmt.Errorf("service %s is missing", s.name))
		}
	}
	for name := range f.Services {
		if !slices.Contains(want, name) {
			errs = append(errs, fmt.Errorf("service %s is not part of the documented stack %v", name, want))
		}
	}
	return errs
}

// forEach runs fn on every service of the stack that the file has; a missing
// one is reported by checkServices.
func forEach(f file, fn func(name string, s *service) []error) []error {
	var errs []error
	for _, st := range stack {
		if s := f.Services[st.name]; s != nil {
			errs = append(errs, fn(st.name, s)...)
		}
	}
	return errs
}

func checkImages(f file) []error {
	var errs []error
	for _, st := range stack {
		s := f.Services[st.name]
		if s == nil {
			continue
		}
		// The tag follows the last colon after the last slash (a registry may have a port).
		i := strings.LastIndex(s.Image, ":")
		if i < strings.LastIndex(s.Image, "/") {
			i = -1
		}
		repo, tag := s.Image, ""
		if i >= 0 {
			repo, tag = s.Image[:i], s.Image[i+1:]
		}
		switch {
		case i < 0:
			errs = append(errs, fmt.Errorf("%s: image %q has no tag", st.name, s.Image))
		case repo != st.repo:
			errs = append(errs, fmt.Errorf("%s: image %q is not %s", st.name, s.Image, st.repo))
		case !st.version.MatchString(tag):
			errs = append(errs, fmt.Errorf("%s: tag %q is not an exact version matching %s", st.name, tag, st.version))
		}
	}
	return errs
}

func checkHealth(f file) []error {
	probes := map[string]string{}
	for _, st := range stack {
		probes[st.name] = st.probe
	}
	return forEach(f, func(name string, s *service) []error {
		h := s.Healthcheck
		if h == nil || h.Disable || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
			return []error{fmt.Errorf("%s: no usable health check (want test: [CMD-SHELL, ...])", name)}
		}
		if cmd := strings.Join(h.Test[1:], " "); !strings.Contains(cmd, probes[name]) {
			return []error{fmt.Errorf("%s: health check %q does not probe %s", name, cmd, probes[name])}
		}
		return nil
	})
}

func checkPorts(f file) []error {
	var errs []error
	for _, st := range stack {
		if s := f.Services[st.name]; s != nil && !slices.Contains(s.Ports, st.port) {
			errs = append(errs, fmt.Errorf("%s: ports %v lack %q", st.name, s.Ports, st.port))
		}
	}
	return errs
}

func checkStartOrder(f file) []error {
	var errs []error
	for _, st := range stack {
		s := f.Services[st.name]
		if s == nil {
			continue
		}
		for _, dep := range st.dependsOn {
			if d, ok := s.DependsOn[dep]; !ok || d.Condition != "service_healthy" {
				errs = append(errs, fmt.Errorf("%s: depends_on %s must have condition: service_healthy", st.name, dep))
			}
		}
	}
	return errs
}

func checkPostgres(f file) []error {
	s := f.Services["postgres"]
	if s == nil {
		return nil
	}
	var errs []error
	for _, setting := range []string{"wal_level=logical", "max_wal_senders=10", "max_replication_slots=10", "max_slot_wal_keep_size=2GB"} {
		if i := slices.Index(s.Command, setting); i < 1 || s.Command[i-1] != "-c" {
			errs = append(errs, fmt.Errorf("postgres: command %v lacks -c %s", s.Command, setting))
		}
	}
	for _, k := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
		if s.Environment[k] == "" {
			errs = append(errs, fmt.Errorf("postgres: %s is not set", k))
		}
	}
	return errs
}

// listeners parses "NAME://host:port,..." into name → host:port.
func listeners(v string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(v, ",") {
		if name, addr, ok := strings.Cut(strings.TrimSpace(l), "://"); ok {
			m[name] = addr
		}
	}
	return m
}

func checkKafka(f file) []error {
	s := f.Services["kafka"]
	if s == nil {
		return nil
	}
	e := s.Environment
	var errs []error
	need := func(cond bool, format string, args ...any) {
		if !cond {
			errs = append(errs, fmt.Errorf("kafka: "+format, args...))
		}
	}
	roles := strings.Split(e["KAFKA_PROCESS_ROLES"], ",")
	need(slices.Contains(roles, "broker") && slices.Contains(roles, "controller"), "KAFKA_PROCESS_ROLES %q is not broker,controller", e["KAFKA_PROCESS_ROLES"])
	need(e["KAFKA_NODE_ID"] != "", "KAFKA_NODE_ID is not set")
	need(strings.HasPrefix(e["KAFKA_CONTROLLER_QUORUM_VOTERS"], e["KAFKA_NODE_ID"]+"@"), "KAFKA_CONTROLLER_QUORUM_VOTERS %q does not name node %q", e["KAFKA_CONTROLLER_QUORUM_VOTERS"], e["KAFKA_NODE_ID"])
	listen, adv := listeners(e["KAFKA_LISTENERS"]), listeners(e["KAFKA_ADVERTISED_LISTENERS"])
	protocols := listeners(strings.ReplaceAll(e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ":", "://"))
	need(strings.HasSuffix(listen["EXTERNAL"], ":9094"), "KAFKA_LISTENERS has no EXTERNAL listener on 9094: %q", e["KAFKA_LISTENERS"])
	need(adv["EXTERNAL"] == "localhost:9094", "EXTERNAL is advertised as %q, want localhost:9094", adv["EXTERNAL"])
	ctrl, inter := e["KAFKA_CONTROLLER_LISTENER_NAMES"], e["KAFKA_INTER_BROKER_LISTENER_NAME"]
	need(ctrl != "" && listen[ctrl] != "", "controller listener %q is not among KAFKA_LISTENERS", ctrl)
	need(inter != "" && inter != "EXTERNAL" && adv[inter] != "", "inter-broker listener %q is not an advertised internal listener", inter)
	for name := range listen {
		need(protocols[name] != "", "listener %s has no entry in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", name)
	}
	for _, k := range []string{"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"} {
		need(e[k] == "1", "%s = %q, want 1 on a single broker", k, e[k])
	}
	return errs
}

// internalBroker is the address containers use: the inter-broker listener.
func internalBroker(f file) string {
	if k := f.Services["kafka"]; k != nil {
		return listeners(k.Environment["KAFKA_ADVERTISED_LISTENERS"])[k.Environment["KAFKA_INTER_BROKER_LISTENER_NAME"]]
	}
	return ""
}

func checkConnect(f file) []error {
	s := f.Services["connect"]
	if s == nil {
		return nil
	}
	e := s.Environment
	var errs []error
	if b := internalBroker(f); b == "" || e["BOOTSTRAP_SERVERS"] != b {
		errs = append(errs, fmt.Errorf("connect: BOOTSTRAP_SERVERS %q is not Kafka's internal listener %q", e["BOOTSTRAP_SERVERS"], b))
	}
	topics := map[string]bool{}
	for _, k := range []string{"GROUP_ID", "CONFIG_STORAGE_TOPIC", "OFFSET_STORAGE_TOPIC", "STATUS_STORAGE_TOPIC"} {
		if e[k] == "" {
			errs = append(errs, fmt.Errorf("connect: %s is not set", k))
		}
		if strings.HasSuffix(k, "_TOPIC") {
			if topics[e[k]] {
				errs = append(errs, fmt.Errorf("connect: %s %q is shared with another storage topic", k, e[k]))
			}
			topics[e[k]] = true
		}
	}
	for _, k := range []string{"KEY_CONVERTER", "VALUE_CONVERTER"} {
		if e[k] != "org.apache.kafka.connect.json.JsonConverter" {
			errs = append(errs, fmt.Errorf("connect: %s = %q, want JsonConverter", k, e[k]))
		}
		if v := e["CONNECT_"+k+"_SCHEMAS_ENABLE"]; v != "true" {
			errs = append(errs, fmt.Errorf("connect: CONNECT_%s_SCHEMAS_ENABLE = %q, want true", k, v))
		}
	}
	if c := e["CONNECT_PRODUCER_COMPRESSION_TYPE"]; c != "snappy" {
		errs = append(errs, fmt.Errorf("connect: CONNECT_PRODUCER_COMPRESSION_TYPE = %q, want snappy as the relay produces", c))
	}
	if e["CONNECT_LISTENERS"] != "http://0.0.0.0:8083" {
		errs = append(errs, errors.New("connect: CONNECT_LISTENERS must be http://0.0.0.0:8083 for the health check on localhost"))
	}
	return errs
}

func checkUI(f file) []error {
	s := f.Services["kafka-ui"]
	if s == nil {
		return nil
	}
	e := s.Environment
	var errs []error
	if b := internalBroker(f); e["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] != b {
		errs = append(errs, fmt.Errorf("kafka-ui: KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS %q is not %q", e["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"], b))
	}
	if a := e["KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS"]; a != "http://connect:8083" {
		errs = append(errs, fmt.Errorf("kafka-ui: KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS = %q, want http://connect:8083", a))
	}
	return errs
}

// checkVolumes requires every named volume to be declared, so that
// `make compose-down` (down -v) removes the data with the stack.
func checkVolumes(f file) []error {
	return forEach(f, func(name string, s *service) []error {
		var errs []error
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.ContainsAny(src, "./") {
				continue // a bind mount
			}
			if _, ok := f.Volumes[src]; !ok {
				errs = append(errs, fmt.Errorf("%s: volume %q is not declared under volumes:", name, src))
			}
		}
		return errs
	})
}

// TestSameVersionsAsLocalStack: the compose stack and the local stack
// (JVMs from Maven Central) must measure the same Kafka and Debezium, or a
// figure from one would be quoted for the other.
func TestSameVersionsAsLocalStack(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"image: apache/kafka:" + jvmstack.KafkaVersion + "\n",
		"image: quay.io/debezium/connect:" + jvmstack.DebeziumVersion + "\n",
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("docker-compose.yml has no %q: the compose stack drifted from the local stack's versions", strings.TrimSpace(want))
		}
	}
}
