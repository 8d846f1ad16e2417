package handoff_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

// BenchmarkDecide is the cost the policy adds to a bot turn (target: well under 1 ms).
func BenchmarkDecide(b *testing.B) {
	a := tone.New()
	var tr tone.Trajectory
	var in []handoff.TurnInput
	for _, m := range []string{"where is my order", "I asked already, where is my order??",
		"This is the third time I'm asking, my order still has not arrived! Ridiculous."} {
		r := a.Analyze(m)
		s := tr.Observe(tone.Turn{Text: m, Result: r, Intent: "order_status", Resolved: true})
		traj := tr
		in = append(in, handoff.TurnInput{Text: m, Tone: r, Signals: s, Trajectory: &traj, Intent: "order_status"})
	}
	cfg := intents.HandoffConfig{}
	for _, c := range []struct {
		name string
		in   handoff.TurnInput
	}{{"no-handoff", in[0]}, {"frustration", in[2]}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				handoff.Decide(c.in, cfg)
			}
		})
	}
}

// BenchmarkOffer measures routing with 50 agents connected (all but one full) and 1,000
// conversations waiting: re-offering one conversation (best of 50 agents), and a full dispatch.
func BenchmarkOffer(b *testing.B) {
	f := mustQueue(b, nil, nil)
	ctx := context.Background()
	teams := []string{"billing", "orders", "complaints", "custom"}
	for i := range 50 {
		f.connect(b, fmt.Sprintf("a%02d", i), 3, teams[i%len(teams)])
	}
	// Fill every agent (150 slots), then queue 1,000 more.
	for i := range 1000 + 150 {
		conv := fmt.Sprintf("c%04d", i)
		f.enqueue(b, conv, handoff.Mood{Frustration: float64(i%10) / 10}, teams[i%len(teams)])
		f.clock.Advance(time.Second)
		if o := f.note.lastOffer(); o.Ticket.ConversationID == conv {
			if _, err := f.q.Accept(ctx, o.AgentID, conv); err != nil {
				b.Fatal(err)
			}
		}
	}
	if n := len(f.q.View().Waiting); n != 1000 {
		b.Fatalf("%d waiting, want 1000", n)
	}
	// Free one slot: a00 is offered the best waiting billing conversation.
	if err := f.q.ReturnToBot(ctx, "a00", f.status(b, "a00").Active[0]); err != nil {
		b.Fatal(err)
	}
	if o := f.note.lastOffer(); o.AgentID != "a00" {
		b.Fatalf("freed agent not offered: last offer %+v; a00 %+v", o, f.status(b, "a00"))
	}
	target := f.note.lastOffer().Ticket.ConversationID
	b.Run("reoffer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if o, err := f.q.Offer(target); err != nil || o.AgentID != "a00" {
				b.Fatal(o.AgentID, err)
			}
		}
	})
	// The agent's console reconnects: dispatch walks the 1,000 waiting, best first, to find
	// what to offer the one agent with room.
	b.Run("dispatch", func(b *testing.B) {
		b.ReportAllocs()
		a00 := handoff.Agent{ID: "a00", Name: "Agent a00", Capacity: 3, Skills: []string{"billing"}}
		for b.Loop() {
			if err := f.q.Disconnect("a00"); err != nil {
				b.Fatal(err)
			}
			if err := f.q.Connect(a00); err != nil {
				b.Fatal(err)
			}
		}
		if o := f.note.lastOffer(); o.AgentID != "a00" {
			b.Fatalf("reconnected agent not offered: %+v", o)
		}
	})
}

// BenchmarkView is what the transport pays, once per coalescing interval, to read a queue of
// 1,000 for consoles and visitors.
func BenchmarkView(b *testing.B) {
	f := mustQueue(b, nil, nil)
	f.connect(b, "a", 1)
	for i := range 1000 {
		f.enqueue(b, fmt.Sprintf("c%04d", i), handoff.Mood{Anxiety: float64(i%7) / 7})
	}
	b.ReportAllocs()
	for b.Loop() {
		if v := f.q.View(); len(v.Waiting) != 1000 {
			b.Fatal(len(v.Waiting))
		}
	}
}

// BenchmarkEnqueue measures a hand-off joining a queue of 1,000 (sorted insert, dispatch and
// the queue view for the notifier).
func BenchmarkEnqueue(b *testing.B) {
	f := mustQueue(b, nil, nil)
	ctx := context.Background()
	for i := range 1000 {
		f.enqueue(b, fmt.Sprintf("c%04d", i), handoff.Mood{Anxiety: float64(i%7) / 7})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		conv := fmt.Sprintf("n%d", i)
		i++
		if _, err := f.q.Enqueue(ctx, handoff.Request{ConversationID: conv, Decision: handoff.Decision{Reason: handoff.ReasonFrustration}}); err != nil {
			b.Fatal(err)
		}
		if err := f.q.Cancel(ctx, conv); err != nil {
			b.Fatal(err)
		}
	}
}
