package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestOnGivesAPortThatCanBeBound(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			p, err := On(host)
			if err != nil {
				t.Fatal(err)
			}
			if p <= 0 || p > 65535 {
				t.Fatalf("port %d", p)
			}
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				t.Fatalf("port %d is not free: %v", p, err)
			}
			_ = l.Close()
		})
	}
}

func TestAddrAvoidsPortsInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for range 20 {
		a, err := Addr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if a == busy.Addr().String() {
			t.Fatalf("Addr gave %s, which is in use", a)
		}
	}
}

func TestOnFailsOnAHostItCannotBind(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: no interface here has it.
	if p, err := On("192.0.2.1"); err == nil {
		t.Fatalf("On(192.0.2.1) = %d, want an error", p)
	}
}

func TestOnDrawsBelowTheEphemeralRange(t *testing.T) {
	eph := ephemeralStart()
	if eph <= low {
		t.Skipf("the kernel's ephemeral range starts at %d: nothing to draw from below it", eph)
	}
	for range 50 {
		p, err := On("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if p < low || p >= eph {
			t.Fatalf("On gave %d, outside [%d, %d): the kernel may give it to someone else", p, low, eph)
		}
	}
}

func TestOnDrawsAgainPastBusyPortsAndFallsBack(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bp := busy.Addr().(*net.TCPAddr).Port
	eph := bp + 1000 // a range that holds the busy port, for the draws below
	tests := []struct {
		name  string
		eph   int
		draws []int // offsets from low, in order
		check func(t *testing.T, p int)
	}{
		{"busy first, then a free one", eph, []int{bp - low, bp + 1 - low},
			func(t *testing.T, p int) {
				if p == bp {
					t.Errorf("gave the busy port %d", p)
				}
			}},
		{"every draw busy: the kernel picks", eph, []int{bp - low},
			func(t *testing.T, p int) {
				if p == bp || p <= 0 {
					t.Errorf("gave %d", p)
				}
			}},
		{"no room below the ephemeral range: the kernel picks", low, nil,
			func(t *testing.T, p int) {
				if p < ephemeralStart() && ephemeralStart() > low {
					t.Errorf("gave %d, below the ephemeral range", p)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			intN := func(n int) int {
				d := tc.draws[min(i, len(tc.draws)-1)]
				i++
				if d < 0 || d >= n {
					t.Fatalf("draw %d outside [0, %d)", d, n)
				}
				return d
			}
			l, err := listen("127.0.0.1", tc.eph, intN)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			tc.check(t, l.Addr().(*net.TCPAddr).Port)
		})
	}
}

func TestPortsAreDifferent(t *testing.T) {
	ps, err := Ports("127.0.0.1", 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ps {
		if seen[p] {
			t.Fatalf("port %d given twice in %v", p, ps)
		}
		seen[p] = true
	}
}
