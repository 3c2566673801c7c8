package stack_test

import (
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/stack"
)

func TestChoose(t *testing.T) {
	t.Setenv("PGHOST", "")
	for _, tc := range []struct {
		name    string
		req     stack.Request
		wantErr string
		check   func(stack.Choice) string // "" when the choice is right
	}{
		{name: "embedded defaults", req: stack.Request{Kind: stack.KindEmbedded}, check: func(c stack.Choice) string {
			if c.CDC != stack.CDCRelay || !c.DropExisting || c.Options.PostgresDSN != "" {
				return "want the relay on a private cluster cdcbench may reset"
			}
			return ""
		}},
		{name: "embedded on a given database keeps its table", req: stack.Request{Kind: stack.KindEmbedded, Options: stack.Options{PostgresDSN: "postgres://x@h/db"}}, check: func(c stack.Choice) string {
			if c.DropExisting {
				return "a database cdcbench did not start must not be reset without --reset-table"
			}
			return ""
		}},
		{name: "compose is Debezium on the compose ports", req: stack.Request{Kind: stack.KindCompose}, check: func(c stack.Choice) string {
			if c.CDC != stack.CDCDebezium || c.ConnectURL == "" || len(c.Options.Brokers) != 1 || c.DBHost != "postgres" || c.DBPort != 5432 {
				return "want Debezium at the compose endpoints, database as the container sees it"
			}
			return ""
		}},
		{name: "compose with the relay", req: stack.Request{Kind: stack.KindCompose, CDC: stack.CDCRelay}, check: func(c stack.Choice) string {
			if c.CDC != stack.CDCRelay || c.DBHost != "" {
				return "the relay runs here and needs no Connect-side address"
			}
			return ""
		}},
		{name: "connect-db-host", req: stack.Request{Kind: stack.KindExternal, CDC: stack.CDCDebezium, ConnectURL: "http://c:8083", ConnectDBHost: "db:6543",
			Options: stack.Options{PostgresDSN: "postgres://x@h/db", Brokers: []string{"k:9092"}}}, check: func(c stack.Choice) string {
			if c.DBHost != "db" || c.DBPort != 6543 {
				return "want db:6543"
			}
			return ""
		}},
		{name: "local starts everything itself", req: stack.Request{Kind: stack.KindLocal}, check: func(c stack.Choice) string {
			if !c.Options.JVM || c.CDC != stack.CDCRelay || !c.DropExisting || c.Options.PostgresDSN != "" || len(c.Options.Brokers) != 0 {
				return "want the relay on a private cluster and the JVM Kafka"
			}
			return ""
		}},
		{name: "local with Debezium needs no Connect URL", req: stack.Request{Kind: stack.KindLocal, CDC: stack.CDCDebezium}, check: func(c stack.Choice) string {
			if !c.Options.JVM || c.CDC != stack.CDCDebezium || c.ConnectURL != "" {
				return "the worker's URL comes from the stack once it runs"
			}
			return ""
		}},
		{name: "local refuses endpoints", req: stack.Request{Kind: stack.KindLocal, Options: stack.Options{Brokers: []string{"k:9092"}}}, wantErr: "--stack local starts its own"},
		{name: "local refuses an unknown cdc", req: stack.Request{Kind: stack.KindLocal, CDC: "maxwell"}, wantErr: "--cdc must be"},
		{name: "external needs a database", req: stack.Request{Kind: stack.KindExternal, Options: stack.Options{Brokers: []string{"k:9092"}}}, wantErr: "--pg-dsn"},
		{name: "external needs brokers", req: stack.Request{Kind: stack.KindExternal, Options: stack.Options{PostgresDSN: "postgres://x@h/db"}}, wantErr: "--brokers"},
		{name: "debezium needs Connect", req: stack.Request{Kind: stack.KindEmbedded, CDC: stack.CDCDebezium}, wantErr: "--connect-url"},
		{name: "unknown kind", req: stack.Request{Kind: "cloud"}, wantErr: "--stack must be"},
		{name: "unknown cdc", req: stack.Request{Kind: stack.KindEmbedded, CDC: "maxwell"}, wantErr: "--cdc must be"},
		{name: "bad connect-db-host", req: stack.Request{Kind: stack.KindCompose, ConnectDBHost: "nocolon"}, wantErr: "--connect-db-host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := stack.Choose(tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Choose = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if why := tc.check(ch); why != "" {
				t.Fatalf("%+v: %s", ch, why)
			}
		})
	}
}
