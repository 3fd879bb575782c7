package main

import "testing"

// Over 6 rounds the three runtimes run in each of the 6 orders once, so
// that each starts right after each other one equally often within a
// round.
func TestRoundOrderCyclesThroughPermutations(t *testing.T) {
	rts := []*rt{{name: "husk"}, {name: "runc"}, {name: "crun"}}
	seen := map[string]bool{}
	follows := map[string]int{}
	for i := 0; i < 6; i++ {
		order := roundOrder(rts, i)
		key := ""
		for j, r := range order {
			key += r.name + " "
			if j > 0 {
				follows[order[j-1].name+">"+r.name]++
			}
		}
		seen[key] = true
	}
	if len(seen) != 6 {
		t.Errorf("6 rounds gave %d distinct orders, want 6: %v", len(seen), seen)
	}
	for _, a := range rts {
		for _, b := range rts {
			if a != b && follows[a.name+">"+b.name] != 2 {
				t.Errorf("%s ran right after %s %d times in 6 rounds, want 2", b.name, a.name, follows[a.name+">"+b.name])
			}
		}
	}
	if got := roundOrder(rts, 0); got[0] != rts[0] || got[1] != rts[1] || got[2] != rts[2] {
		t.Errorf("round 0 is not the given order")
	}
	if rts[0].name != "husk" || rts[1].name != "runc" || rts[2].name != "crun" {
		t.Errorf("roundOrder changed its argument")
	}
}
