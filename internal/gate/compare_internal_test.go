package gate

import "testing"

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
