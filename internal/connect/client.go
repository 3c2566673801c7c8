// Package connect drives a Kafka Connect worker's REST API for cdcbench's
// Debezium path: it checks that a URL really is Kafka Connect, registers the
// Debezium PostgreSQL connector idempotently, waits until the connector and
// its tasks run (or reports Debezium's own stack trace when they fail), and
// deletes the connector when the run ends.
//
// It speaks plain net/http because the REST API is a handful of JSON calls;
// a client library would add a dependency for less control over timeouts,
// retries and the redaction of the database password.
package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/wait"
)

// ErrNotConnect reports a URL that answers HTTP but is not a Kafka Connect
// worker (a Kafka UI, a Schema Registry, a proxy's error page, ...), so the
// user fixes --connect-url instead of reading a JSON decoding error.
var ErrNotConnect = errors.New("not Kafka Connect")

// ErrNoDebezium reports a Connect worker without the Debezium PostgreSQL
// connector plugin installed.
var ErrNoDebezium = errors.New("the Debezium PostgreSQL connector plugin is not installed")

// PostgresConnectorClass is the connector.class of Debezium's PostgreSQL
// source connector, as /connector-plugins lists it.
const PostgresConnectorClass = "io.debezium.connector.postgresql.PostgresConnector"

// Defaults, each overridable with an Option. The request timeout bounds one
// HTTP exchange; Connect answers in milliseconds unless it is rebalancing, in
// which case it answers 409 quickly rather than hanging.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultWaitTimeout    = 2 * time.Minute
	DefaultPollInterval   = 500 * time.Millisecond
	DefaultRetries        = 10
	DefaultRetryBackoff   = 250 * time.Millisecond
	maxRetryBackoff       = 4 * time.Second
)

// Client talks to one Kafka Connect worker. It is safe for concurrent use.
type Client struct {
	base         *url.URL
	http         *http.Client
	waitTimeout  time.Duration
	pollInterval time.Duration
	retries      int
	retryBackoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default client (whose Timeout is
// DefaultRequestTimeout); give it a Timeout of its own.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithWaitTimeout bounds WaitRunning (default DefaultWaitTimeout).
func WithWaitTimeout(d time.Duration) Option { return func(c *Client) { c.waitTimeout = d } }

// WithPollInterval sets how often WaitRunning asks for the status (default
// DefaultPollInterval).
func WithPollInterval(d time.Duration) Option { return func(c *Client) { c.pollInterval = d } }

// WithRetries sets how many times a call answered 409 (a worker rebalance in
// progress) is tried in all, and the first pause between tries, which doubles
// up to a few seconds (defaults DefaultRetries, DefaultRetryBackoff).
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.retryBackoff = attempts, backoff }
}

// New returns a client for the worker at baseURL, e.g. "http://localhost:8083".
// It does not contact the worker; call Check for that.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("connect: url %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("connect: url %q: want http://host:port", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:         u,
		http:         &http.Client{Timeout: DefaultRequestTimeout},
		waitTimeout:  DefaultWaitTimeout,
		pollInterval: DefaultPollInterval,
		retries:      DefaultRetries,
		retryBackoff: DefaultRetryBackoff,
	}
	for _, o := range opts {
		o(c)
	}
	if c.retries < 1 {
		c.retries = 1
	}
	return c, nil
}

// URL returns the worker's base URL, as given to New without a trailing slash.
func (c *Client) URL() string { return c.base.String() }

// Info is what a worker answers on GET /.
type Info struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// Check verifies that the URL is a Kafka Connect worker and returns its
// version and the id of the Kafka cluster it writes to. An answer that is
// not Connect's {"version","commit","kafka_cluster_id"} document is an error
// wrapping ErrNotConnect that quotes the start of what was answered.
func (c *Client) Check(ctx context.Context) (Info, error) {
	resp, body, err := c.send(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return Info{}, err
	}
	notConnect := func(why string) error {
		return fmt.Errorf("connect: %s is not Kafka Connect: GET / answered %d %s, %s: %q: %w",
			c.base, resp.StatusCode, contentType(resp), why, snippet(body), ErrNotConnect)
	}
	if resp.StatusCode != http.StatusOK {
		return Info{}, notConnect("want 200")
	}
	// Decode into a map first: a JSON document that merely lacks the fields
	// (an actuator's {"status":"UP"}) must not pass as an empty Info.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Info{}, notConnect("not a JSON object")
	}
	for _, k := range []string{"version", "commit", "kafka_cluster_id"} {
		if _, ok := fields[k]; !ok {
			return Info{}, notConnect("no " + k + " field")
		}
	}
	var info Info
	if err := json.Unmarshal(body, &info); err != nil || info.Version == "" {
		return Info{}, notConnect("version is not a non-empty string")
	}
	return info, nil
}

// Version returns the worker's Kafka Connect version, e.g. "4.1.1".
func (c *Client) Version(ctx context.Context) (string, error) {
	info, err := c.Check(ctx)
	return info.Version, err
}

// Plugin is one entry of GET /connector-plugins.
type Plugin struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version"`
}

// Plugins lists the connector plugins installed on the worker.
func (c *Client) Plugins(ctx context.Context) ([]Plugin, error) {
	var ps []Plugin
	if err := c.call(ctx, http.MethodGet, "/connector-plugins", nil, &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// DebeziumVersion returns the version of the installed Debezium PostgreSQL
// connector, e.g. "3.4.3.Final", for the result's stack description. A worker
// without it gives an error wrapping ErrNoDebezium.
func (c *Client) DebeziumVersion(ctx context.Context) (string, error) {
	ps, err := c.Plugins(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Class == PostgresConnectorClass {
			return p.Version, nil
		}
	}
	return "", fmt.Errorf("connect: %s: %w (%d plugins listed)", c.base, ErrNoDebezium, len(ps))
}

// APIError is a non-2xx answer of the REST API. Connect puts its reason in a
// {"error_code","message"} body; Message holds it, or the start of whatever
// else came back.
type APIError struct {
	Method     string
	URL        string
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("connect: %s %s: %d %s: %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// call sends one request, retrying while the worker answers 409 (its group is
// rebalancing, or its config is momentarily stale: Connect's documented
// "try again"), and decodes a 2xx JSON answer into out when out is not nil.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("connect: %s %s: encode body: %w", method, path, err)
		}
	}
	backoff := c.retryBackoff
	for attempt := 1; ; attempt++ {
		resp, body, err := c.send(ctx, method, path, payload)
		if err != nil {
			return err
		}
		if resp.StatusCode/100 == 2 {
			if out == nil || len(body) == 0 {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("connect: %s %s: decode answer %q: %w", method, c.endpoint(path), snippet(body), err)
			}
			return nil
		}
		apiErr := &APIError{Method: method, URL: c.endpoint(path), StatusCode: resp.StatusCode, Message: errorMessage(body)}
		if resp.StatusCode != http.StatusConflict || attempt >= c.retries {
			if resp.StatusCode == http.StatusConflict {
				return fmt.Errorf("%w (gave up after %d tries)", apiErr, attempt)
			}
			return apiErr
		}
		if err := wait.Sleep(ctx, backoff); err != nil {
			return fmt.Errorf("%w; retrying stopped: %w", apiErr, err)
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// send performs one HTTP exchange and reads the whole (small) answer.
func (c *Client) send(ctx context.Context, method, path string, payload []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path), rd)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: cannot reach Kafka Connect at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %s %s: read answer: %w", method, c.endpoint(path), err)
	}
	return resp, body, nil
}

func (c *Client) endpoint(path string) string { return c.base.String() + path }

// errorMessage extracts Connect's error message, or quotes the answer.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("%q", snippet(body))
}

func contentType(resp *http.Response) string {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return "(no content type)"
	}
	return mt
}

// snippet is the start of an answer, enough to recognise what answered.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
