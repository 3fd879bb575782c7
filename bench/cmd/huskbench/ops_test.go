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

// With -block, each runtime keeps n samples, every one of them from a run
// that followed a run of the same runtime, and the first run of a block
// (after another runtime's) is never kept. Without, one run per runtime
// and round, all kept.
func TestMeasureBlocks(t *testing.T) {
	for _, tc := range []struct{ n, warmup, block int }{
		{n: 7, warmup: 1, block: 1},
		{n: 7, warmup: 1, block: 3},
		{n: 5, warmup: 0, block: 2},
	} {
		b := &bench{o: &options{}, samples: map[string][]float64{}}
		b.rts = []*rt{{name: "husk"}, {name: "runc"}}
		prev, calls := "", 0
		err := b.measure([]opInfo{{name: "op"}}, tc.n, tc.warmup, tc.block, func(r *rt) ([]float64, error) {
			calls++
			v := 0.0 // a run that follows another runtime's
			if prev == r.name {
				v = 1
			}
			prev = r.name
			return []float64{v}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range b.rts {
			got := b.samples["op\x00"+r.name]
			if len(got) != tc.n {
				t.Errorf("%+v: %s has %d samples, want %d", tc, r.name, len(got), tc.n)
			}
			for _, v := range got {
				if tc.block > 1 && v != 1 {
					t.Errorf("%+v: %s kept a run that followed another runtime's", tc, r.name)
					break
				}
			}
		}
		if tc.block == 1 && calls != 2*(tc.n+tc.warmup) {
			t.Errorf("%+v: %d runs, want %d", tc, calls, 2*(tc.n+tc.warmup))
		}
	}
}
