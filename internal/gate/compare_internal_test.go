package gate

import (
	"testing"

	"github.com/cdcbench/cdcbench/internal/result"
)

func TestCompareChange(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want string
	}{
		{"one run a side: untested", []float64{4}, []float64{4.5}, "+12.5% (n=1+1)"},
		{"significant", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, "+166.7% (p=0.008 n=5+5)"},
		{"not significant", []float64{4, 4.4, 3.9}, []float64{4.2, 4.1, 4.5}, "~ (p=0.400 n=3+3)"},
		{"faster", []float64{10, 11, 12, 13}, []float64{5, 5.5, 6, 6.5}, "-50.0% (p=0.029 n=4+4)"},
		{"zero median", []float64{0}, []float64{1}, "n/a (n=1+1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := compareChange(tt.a, tt.b, 0.05)
			if err != nil || got != tt.want {
				t.Errorf("compareChange = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestStackDifference(t *testing.T) {
	embedded := result.StackResult{StackInfo: result.StackInfo{Postgres: "embedded", PostgresVersion: "15.18", Kafka: "kfake (in-process, franz-go)", Brokers: "127.0.0.1:1"}, CDC: "relay cdcbench-relay/1"}
	otherPort := embedded
	otherPort.Brokers = "127.0.0.1:2"
	debezium := embedded
	debezium.CDC = "debezium 3.6.1.Final"
	external := result.StackResult{StackInfo: result.StackInfo{Postgres: "external", PostgresVersion: "17.6", Kafka: "external"}, CDC: "relay cdcbench-relay/1"}
	tests := []struct {
		name string
		a, b *result.StackResult
		want string
	}{
		{"the same stack on other ports", &embedded, &otherPort, ""},
		{"a baseline that does not say", nil, &embedded, ""},
		{"a result that does not say", &result.StackResult{}, &embedded, ""},
		{"another capture", &embedded, &debezium, "the cdc path (A: relay cdcbench-relay/1; B: debezium 3.6.1.Final)"},
		{"external servers", &embedded, &external, "PostgreSQL (A: embedded 15.18; B: external 17.6), Kafka (A: kfake (in-process, franz-go); B: external)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stackDifference(tt.a, tt.b); got != tt.want {
				t.Errorf("stackDifference = %q, want %q", got, tt.want)
			}
		})
	}
}
