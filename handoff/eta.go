package handoff

import (
	"slices"
	"time"
)

// waits remembers the latest real waiting times (queued until accepted), newest last, and keeps
// their median: the ETA shown to visitors comes from what visitors actually waited, never from a
// guess.
type waits struct {
	ring   []time.Duration
	next   int
	full   bool
	median time.Duration
	known  bool
}

func newWaits(n int) *waits { return &waits{ring: make([]time.Duration, n)} }

// add records one wait and refreshes the median (n is small, so a sort per accept is cheap and
// every ETA read is O(1)).
func (w *waits) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	w.ring[w.next] = d
	w.next = (w.next + 1) % len(w.ring)
	if w.next == 0 {
		w.full = true
	}
	n := w.next
	if w.full {
		n = len(w.ring)
	}
	s := slices.Clone(w.ring[:n])
	slices.Sort(s)
	if n%2 == 1 {
		w.median = s[n/2]
	} else {
		w.median = (s[n/2-1] + s[n/2]) / 2
	}
	w.known = true
}

// eta estimates the remaining wait of the conversation at position (1-based) when online agents
// serve the queue in parallel: the median recent wait, scaled by position / online. It is nil
// when there is no history or nobody online, because an invented number is worse than none.
func (w *waits) eta(position, online int) *time.Duration {
	if !w.known || online <= 0 || position <= 0 {
		return nil
	}
	d := time.Duration(float64(w.median) * float64(position) / float64(online)).Round(time.Second)
	return &d
}
