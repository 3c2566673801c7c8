package connect_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/connect"
)

// reply is one canned answer of the fake worker: a status and a body file
// from testdata (or a literal body).
type reply struct {
	status int
	file   string
	body   string
	ctype  string
}

// request is what the fake worker received.
type request struct {
	method, path, contentType string
	body                      []byte
}

// fakeWorker replays recorded Kafka Connect answers per "METHOD /path": each
// call takes the next reply, the last one repeats. Unknown routes answer like
// Connect's Jersey does for an unknown resource.
type fakeWorker struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string][]reply
	calls  map[string]int
	got    []request
	srv    *httptest.Server
}

func newWorker(t *testing.T) *fakeWorker {
	t.Helper()
	w := &fakeWorker{t: t, routes: map[string][]reply{}, calls: map[string]int{}}
	w.srv = httptest.NewServer(w)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *fakeWorker) on(route string, replies ...reply) *fakeWorker {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.routes[route] = replies
	return w
}

func (w *fakeWorker) count(route string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[route]
}

func (w *fakeWorker) requests() []request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]request(nil), w.got...)
}

func (w *fakeWorker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	route := r.Method + " " + r.URL.EscapedPath()
	w.mu.Lock()
	w.got = append(w.got, request{method: r.Method, path: r.URL.EscapedPath(), contentType: r.Header.Get("Content-Type"), body: body})
	replies, ok := w.routes[route]
	n := w.calls[route]
	w.calls[route]++
	w.mu.Unlock()
	if !ok {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusNotFound)
		io.WriteString(rw, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
		return
	}
	rp := replies[min(n, len(replies)-1)]
	b := []byte(rp.body)
	if rp.file != "" {
		var err error
		if b, err = os.ReadFile(filepath.Join("testdata", rp.file)); err != nil {
			w.t.Errorf("fake worker: %v", err)
		}
	}
	ct := rp.ctype
	if ct == "" {
		ct = "application/json"
	}
	if len(b) > 0 {
		rw.Header().Set("Content-Type", ct)
	}
	rw.WriteHeader(rp.status)
	rw.Write(b)
}

// client returns a client for the fake worker with fast polling and retries.
func (w *fakeWorker) client(opts ...connect.Option) *connect.Client {
	w.t.Helper()
	base := []connect.Option{
		connect.WithPollInterval(5 * time.Millisecond),
		connect.WithRetries(5, time.Millisecond),
		connect.WithWaitTimeout(2 * time.Second),
	}
	c, err := connect.New(w.srv.URL, append(base, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func ok(file string) reply               { return reply{status: http.StatusOK, file: file} }
func status(code int, file string) reply { return reply{status: code, file: file} }
