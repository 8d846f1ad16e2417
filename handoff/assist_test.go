package handoff_test

import (
	"strings"
	"testing"

	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

var canned = []intents.CannedReply{
	{Title: "Refund confirmed", Text: "I've refunded that for you now. It goes back to the card you paid with."},
	{Title: "Replacement on its way", Text: "We'll bake a replacement tonight and send it tomorrow morning."},
	{Title: "Need a photo", Text: "Could you send a photo of the box and the bake?"},
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name string
		in   handoff.AssistInput
		want []string // prefixes, in order
	}{
		{"first reply to a furious visitor who asked for a person",
			handoff.AssistInput{FirstReply: true, Agent: "Sam", Reason: handoff.ReasonAskedForPerson,
				Tone: tone.Result{Dominant: "frustration", Intensity: 0.8}, LastVisitor: "the cake arrived crushed, I want a refund", Canned: canned},
			[]string{"Hi, I'm Sam from the team", "I'm really sorry you've had to chase this", "I've refunded that"}},
		{"mild worry, later in the chat",
			handoff.AssistInput{Tone: tone.Result{Dominant: "anxiety", Intensity: 0.2}, LastVisitor: "will the replacement arrive tomorrow?", Canned: canned},
			[]string{"I understand this is worrying", "We'll bake a replacement", "Thanks for waiting"}},
		{"neutral and nothing matching",
			handoff.AssistInput{Tone: tone.Result{Dominant: tone.Neutral}, LastVisitor: "ok", Canned: canned},
			[]string{"Thanks for waiting", "Is there anything else"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := handoff.Suggest(tc.in, 3)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d suggestions %+v, want %d", len(got), got, len(tc.want))
			}
			for i, s := range got {
				if !strings.HasPrefix(s.Text, tc.want[i]) || s.Label != handoff.SuggestionLabel {
					t.Errorf("[%d] %q (%s), want prefix %q", i, s.Text, s.Label, tc.want[i])
				}
			}
		})
	}
}

func TestMatchCanned(t *testing.T) {
	got := handoff.MatchCanned(canned, "Can you send a photo of the box?", 2)
	if len(got) != 2 || got[0].Title != "Need a photo" || got[1].Title != "Replacement on its way" {
		t.Fatalf("got %+v", got)
	}
	if got := handoff.MatchCanned(canned, "", 3); got != nil {
		t.Errorf("empty text matched %+v", got)
	}
}
