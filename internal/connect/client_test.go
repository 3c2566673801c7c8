package connect_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/connect"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "host and port", in: "http://localhost:8083", want: "http://localhost:8083"},
		{name: "trailing slash dropped", in: "http://connect:8083/", want: "http://connect:8083"},
		{name: "path prefix kept", in: " https://proxy.example/connect/ ", want: "https://proxy.example/connect"},
		{name: "no scheme", in: "localhost:8083", wantErr: true},
		{name: "wrong scheme", in: "ftp://connect:8083", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "no host", in: "http://", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := connect.New(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("New(%q) = %s, want an error", tc.in, c.URL())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.URL() != tc.want {
				t.Errorf("URL() = %q, want %q", c.URL(), tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name        string
		root        reply
		wantVersion string
		wantInErr   string // "" means success
	}{
		{name: "kafka connect", root: ok("root.json"), wantVersion: "4.1.1"},
		{name: "kafka ui page", root: reply{status: 200, file: "kafka-ui.html", ctype: "text/html"}, wantInErr: "not a JSON object"},
		{name: "actuator health", root: ok("actuator-health.json"), wantInErr: "no version field"},
		{name: "empty object", root: reply{status: 200, body: "{}"}, wantInErr: "no version field"},
		{name: "connect fields of the wrong type", root: reply{status: 200, body: `{"version":4,"commit":"x","kafka_cluster_id":"y"}`}, wantInErr: "version is not a non-empty string"},
		{name: "not found", root: reply{status: 404, body: "404 page not found", ctype: "text/plain"}, wantInErr: "want 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on("GET /", tc.root)
			info, err := w.client().Check(context.Background())
			if tc.wantInErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := connect.Info{Version: "4.1.1", Commit: "be816b82d25370ce", KafkaClusterID: "eqiRNo1mQp-6P2oBDFW4lA"}
				if info != want {
					t.Errorf("Check = %+v, want %+v", info, want)
				}
				return
			}
			if !errors.Is(err, connect.ErrNotConnect) {
				t.Fatalf("Check error = %v, want ErrNotConnect", err)
			}
			for _, s := range []string{w.srv.URL + " is not Kafka Connect", tc.wantInErr} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestCheckUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := connect.New(url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Check(context.Background())
	if err == nil || errors.Is(err, connect.ErrNotConnect) {
		t.Fatalf("Check on a closed port = %v, want a reachability error, not ErrNotConnect", err)
	}
	if !strings.Contains(err.Error(), "cannot reach Kafka Connect at "+url) {
		t.Errorf("error %q does not name the URL it could not reach", err)
	}
}

func TestVersion(t *testing.T) {
	w := newWorker(t).on("GET /", ok("root.json"))
	v, err := w.client().Version(context.Background())
	if err != nil || v != "4.1.1" {
		t.Fatalf("Version = %q, %v; want 4.1.1", v, err)
	}
}

func TestDebeziumVersion(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
		wantErr          error
	}{
		{name: "debezium image", file: "plugins.json", want: "3.4.3.Final"},
		{name: "plain kafka connect", file: "plugins-no-debezium.json", wantErr: connect.ErrNoDebezium},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on("GET /connector-plugins", ok(tc.file))
			got, err := w.client().DebeziumVersion(context.Background())
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("DebeziumVersion = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestPlugins(t *testing.T) {
	w := newWorker(t).on("GET /connector-plugins", ok("plugins.json"))
	ps, err := w.client().Plugins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 11 {
		t.Fatalf("got %d plugins, want 11", len(ps))
	}
	want := connect.Plugin{Class: connect.PostgresConnectorClass, Type: "source", Version: "3.4.3.Final"}
	if ps[6] != want {
		t.Errorf("plugin 6 = %+v, want %+v", ps[6], want)
	}
}
