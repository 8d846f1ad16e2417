package empathy

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
)

var analyzer = tone.New()

type step struct {
	text     string
	intent   string
	resolved bool
	// want
	style    string
	ack      bool
	minLevel int
	dominant string // running trajectory dominant after the turn, "" to skip
}

// Each script is one conversation: the tone trajectory and the reply style after every turn.
func TestConversationScenarios(t *testing.T) {
	scripts := map[string][]step{
		"question repeated three times after unhelpful answers": {
			{text: "How do I change my delivery address?", intent: "change_address", resolved: true, style: StyleNeutral},
			{text: "I asked how to change the delivery address for my order", intent: "change_address", resolved: true, style: StyleAcknowledge, ack: true, minLevel: LevelReal},
			{text: "Third time: how do I change the delivery address on my order?!", intent: "change_address", resolved: true, style: StyleAcknowledge, ack: true, minLevel: LevelStrong, dominant: "frustration"},
		},
		"urgent flight": {
			{text: "URGENT my flight is at 6am and my booking vanished", intent: "booking_lookup", resolved: true, style: StyleFastest, ack: true, minLevel: LevelReal, dominant: "urgency"},
		},
		"thanks that fixed it": {
			{text: "My invoice is missing", intent: "invoice", resolved: true},
			{text: "thanks, that fixed it!", intent: "thanks", resolved: true, style: StyleWarmClose, ack: true, minLevel: LevelLight},
		},
		"thanks for nothing": {
			{text: "Where is my parcel?", intent: "tracking", resolved: true, style: StyleNeutral},
			{text: "thanks for nothing", intent: "", resolved: false, style: StyleAcknowledge, ack: true, minLevel: LevelReal},
		},
		"not worried just curious": {
			{text: "I'm not worried, just curious how refunds work", intent: "refund_policy", resolved: true, style: StyleNeutral, dominant: tone.Neutral},
		},
		"neutral password question": {
			{text: "How do I reset my password?", intent: "password_reset", resolved: true, style: StyleNeutral, dominant: tone.Neutral},
		},
		"confused visitor": {
			{text: "I'm confused, where do I find the invoice?", intent: "invoice", resolved: true, style: StyleStepByStep, ack: true, minLevel: LevelLight},
		},
	}
	c := New(intents.ToneConfig{})
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			var traj tone.Trajectory
			var used []string
			for i, st := range script {
				res := analyzer.Analyze(st.text)
				sig := traj.Observe(tone.Turn{Text: st.text, Result: res, Intent: st.intent, Resolved: st.resolved})
				rep := c.Compose(Input{Tone: res, Trajectory: traj, Signals: sig, VisitorName: "Sam", Used: used}, "Here is how: open Settings. Then choose Address.")
				if st.style != "" && rep.Style != st.style {
					t.Errorf("turn %d %q: style %s, want %s (scores %v, signals %+v)", i, st.text, rep.Style, st.style, res.Scores, sig)
				}
				if st.style != "" && (rep.Ack != "") != st.ack {
					t.Errorf("turn %d %q: ack %q, want ack=%v", i, st.text, rep.Ack, st.ack)
				}
				if rep.Level < st.minLevel {
					t.Errorf("turn %d %q: level %d, want >= %d", i, st.text, rep.Level, st.minLevel)
				}
				if st.dominant != "" && traj.Dominant() != st.dominant {
					t.Errorf("turn %d %q: trajectory dominant %s, want %s (%v)", i, st.text, traj.Dominant(), st.dominant, traj.Tones)
				}
				if rep.Ack != "" {
					if !strings.HasPrefix(rep.Text, rep.Ack) {
						t.Errorf("turn %d: acknowledgement must come first: %q", i, rep.Text)
					}
					for _, u := range used {
						if u == rep.AckKey {
							t.Errorf("turn %d: acknowledgement %s repeated", i, u)
						}
					}
					used = append(used, rep.AckKey)
				}
				if err := CheckAcknowledgement(rep.Text); err != nil {
					t.Errorf("turn %d: %v", i, err)
				}
			}
		})
	}
}

func TestRepeatedAsksArePersonalised(t *testing.T) {
	c := New(intents.ToneConfig{})
	in := Input{Tone: analyzer.Analyze("third time asking, still waiting"), Signals: tone.Signals{Repeated: true, Asks: 3, UnresolvedStreak: 3}, VisitorName: "Ana"}
	r := c.Compose(in, "Your order ships today.")
	if !strings.Contains(r.Ack, "three times") || !strings.Contains(r.Ack, "Ana") || r.Level != LevelStrong {
		t.Errorf("ack %q level %d: want a strong, personalised acknowledgement", r.Ack, r.Level)
	}
}

func TestNeverSameAckTwice(t *testing.T) {
	c := New(intents.ToneConfig{})
	in := Input{Tone: analyzer.Analyze("this is so frustrating, still not working")}
	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		r := c.Compose(in, "Try again.")
		if r.AckKey == "" {
			continue
		}
		if seen[r.AckKey] || seen[r.Ack] {
			t.Fatalf("acknowledgement %q repeated", r.Ack)
		}
		seen[r.AckKey], seen[r.Ack] = true, true
		in.Used = append(in.Used, r.AckKey)
	}
	if len(seen) == 0 {
		t.Fatal("no acknowledgement at all for a frustrated message")
	}
}

func TestConfiguredPhrasingAndPromises(t *testing.T) {
	cfg := intents.ToneConfig{
		Thresholds: map[string]float64{"frustration": 0.6},
		Acknowledgements: map[string]intents.Variants{
			"frustration": {{Text: "We'll refund you right away, {name}."}, {Text: "Sorry about that, {name}, {business} is on it."}},
		},
	}
	c := New(cfg)
	r := c.Compose(Input{Tone: analyzer.Analyze("still waiting, this is unacceptable"), Business: "Acme"}, "Your parcel left the depot.")
	if r.Ack != "Sorry about that, Acme is on it." {
		t.Errorf("ack %q: want the configured, promise-free variant without a name", r.Ack)
	}
	if CheckAcknowledgement("We'll refund you right away") == nil {
		t.Error("a refund promise must be rejected")
	}
}

func TestStepByStep(t *testing.T) {
	got := steps("Open Settings. Choose Billing. Download the invoice.")
	want := "Step by step:\n1. Open Settings.\n2. Choose Billing.\n3. Download the invoice."
	if got != want {
		t.Errorf("steps = %q, want %q", got, want)
	}
	if one := steps("Open Settings."); one != "Open Settings." {
		t.Errorf("one sentence became %q", one)
	}
}

// The composer offers a person only in the words the bot gives it: it must not promise a hand-off
// the business cannot make.
func TestOfferComesFromTheCaller(t *testing.T) {
	c := New(intents.ToneConfig{})
	a := tone.New()
	in := Input{Tone: a.Analyze("This is ridiculous, I am furious, third time my order has not arrived!!")}
	in.Signals.Asks = 3
	if r := c.Compose(in, "Here is the tracking link."); strings.Contains(strings.ToLower(r.Text), "bring") || strings.Contains(r.Text, "person") {
		t.Fatalf("without an offer the reply still offers a person: %q", r.Text)
	}
	in.Offer = "Say \"person\" for the team's phone number."
	if r := c.Compose(in, "Here is the tracking link."); !strings.HasSuffix(r.Text, in.Offer) {
		t.Fatalf("with an offer the strong reply should end with it: %q", r.Text)
	}
}

func TestCalmButFailingConversationOwnsTheFailure(t *testing.T) {
	c := New(intents.ToneConfig{})
	in := Input{Tone: tone.New().Analyze("what's the weather like"), Signals: tone.Signals{UnresolvedStreak: 2}}
	r := c.Compose(in, "Sorry, I didn't catch that.")
	if strings.Contains(strings.ToLower(r.Text), "frustrat") {
		t.Fatalf("a calm visitor was told they are frustrated: %q", r.Text)
	}
	r = c.Compose(in, "Here is what I found.")
	if r.Ack == "" || r.Tone != toneStalled {
		t.Fatalf("a stalled conversation got no acknowledgement of the bot's failure: %+v", r)
	}
}

func TestNoDoubleApologyOrDoubleQuestion(t *testing.T) {
	c := New(intents.ToneConfig{})
	a := tone.New()
	angry := Input{Tone: a.Analyze("my cake arrived completely squashed, this is ridiculous!!")}
	if r := c.Compose(angry, "I'm so sorry — that's not how your order should arrive."); r.Ack != "" {
		t.Fatalf("an answer that apologises got a second apology in front: %q", r.Text)
	}
	happy := Input{Tone: a.Analyze("thanks, that fixed it! you're brilliant")}
	r := c.Compose(happy, "You're welcome! Is there anything else I can help with?")
	if strings.Count(strings.ToLower(r.Text), "anything else") != 1 {
		t.Fatalf("the warm close repeats the question: %q", r.Text)
	}
}

// Configured acknowledgements are written in the business's language. Without the visitor's
// name the first letter is capitalised; it must stay valid UTF-8 when it is not ASCII.
func TestConfiguredAcknowledgementInAnyScript(t *testing.T) {
	for _, ack := range []string{"¡Lo siento mucho{name}!", "{name} Échec de notre part, désolés.", "Ärgerlich, {name}, das tut uns leid.", "🙏 {name} sorry for the wait.", "ой, {name}, простите."} {
		c := New(intents.ToneConfig{Acknowledgements: map[string]intents.Variants{"frustration": {{Text: ack}}}})
		rep := c.Compose(Input{Tone: analyzer.Analyze("this is ridiculous, I am so angry, third time!!")}, "Here is the answer.")
		if rep.Ack == "" {
			t.Fatalf("%q: no acknowledgement for an angry message", ack)
		}
		if !utf8.ValidString(rep.Text) || strings.ContainsRune(rep.Text, utf8.RuneError) {
			t.Errorf("%q became %q", ack, rep.Ack)
		}
	}
}

// Acknowledgements are remembered by their wording: the same sentence configured for two tones,
// or a configured one that is also a built-in one, is said once. Records written when keys were
// positions ("frustration.1.0", "frustration.cfg.0") still count as the sentences they named.
func TestAcknowledgementKeysAreTheWording(t *testing.T) {
	same := "I hear you, {name}, and I'm sorry for the hassle."
	c := New(intents.ToneConfig{Acknowledgements: map[string]intents.Variants{
		"frustration": {{Text: same}}, "anxiety": {{Text: same}},
	}})
	r := c.Compose(Input{Tone: analyzer.Analyze("this is ridiculous, I am so angry, third time!!")}, "Here is the answer.")
	if r.AckKey != Key(same) {
		t.Fatalf("ack %q key %q, want the configured sentence keyed by its wording", r.Ack, r.AckKey)
	}
	r2 := c.Compose(Input{Tone: analyzer.Analyze("I'm really worried and scared my order is lost"), Used: []string{r.AckKey}}, "Here is the answer.")
	if r2.Ack == "" || r2.Ack == r.Ack {
		t.Errorf("anxious turn after a frustrated one: ack %q, want another sentence than %q", r2.Ack, r.Ack)
	}
	// The built-in default with the same wording is the same sentence.
	def := New(intents.ToneConfig{})
	in := Input{Tone: analyzer.Analyze("this is so frustrating, still not working"), Used: []string{r.AckKey}}
	for i := 0; i < 8; i++ {
		rr := def.Compose(in, "Try again.")
		if rr.Ack == "I hear you, and I'm sorry for the hassle." {
			t.Fatalf("the configured sentence came back as a built-in one: %q", rr.Ack)
		}
		in.Used = append(in.Used, rr.AckKey)
	}
	// Legacy keys.
	legacy := New(intents.ToneConfig{Acknowledgements: map[string]intents.Variants{"frustration": {{Text: "Ugh, sorry."}}}})
	rr := legacy.Compose(Input{Tone: analyzer.Analyze("this is ridiculous, I am so angry!!"), Used: []string{"frustration.cfg.0"}}, "Here.")
	if rr.Ack == "Ugh, sorry." {
		t.Errorf("a record's legacy key frustration.cfg.0 did not count as %q", rr.Ack)
	}
	var old []string
	for l, vs := range defaults["frustration"] {
		for i := range vs {
			old = append(old, fmt.Sprintf("frustration.%d.%d", l, i))
		}
	}
	rr = def.Compose(Input{Tone: analyzer.Analyze("this is so frustrating, still not working"), Used: old}, "Try again.")
	if rr.Tone != "frustration" || rr.Ack != "" {
		t.Errorf("with every built-in frustration acknowledgement used under a legacy key, tone %q ack %q; want none left", rr.Tone, rr.Ack)
	}
}

// A reply whose answer already says why (a hand-off explanation: "You've had to ask more than
// once") gets an acknowledgement that does not say it again, configured or built in.
func TestAcknowledgementDoesNotRepeatTheAnswer(t *testing.T) {
	explanation := "You've had to ask more than once, and that isn't good enough — I'm bringing in a person from the team."
	in := Input{Tone: analyzer.Analyze("third time asking, this is ridiculous!!"), Signals: tone.Signals{Repeated: true, Asks: 3}}
	for _, cfg := range []intents.ToneConfig{{}, {Acknowledgements: map[string]intents.Variants{"frustration": {{Text: "Sorry you had to ask {asks}."}, {Text: "Ugh, sorry about this."}}}}} {
		r := New(cfg).Compose(in, explanation)
		if r.Ack == "" || strings.Count(strings.ToLower(r.Text), "had to ask") != 1 {
			t.Errorf("ack %q: the reply must acknowledge without saying twice that they had to ask: %q", r.Ack, r.Text)
		}
	}
	failed := "I haven't been able to answer this for you, so I'm bringing in a person from the team."
	r := New(intents.ToneConfig{}).Compose(Input{Tone: analyzer.Analyze("who won the match"), Signals: tone.Signals{UnresolvedStreak: 3, Asks: 3}}, failed)
	if strings.Count(strings.ToLower(r.Text), "haven't") > 1 || strings.Contains(r.Text, "do better") {
		t.Errorf("the explanation owns the failure; the acknowledgement %q says it again: %q", r.Ack, r.Text)
	}
}

// A delighted visitor is asked "anything else?" once, not after every happy turn; an answer that
// asks it itself counts.
func TestWarmCloseIsNotRepeated(t *testing.T) {
	c := New(intents.ToneConfig{})
	var used []string
	closes := 0
	for i, text := range []string{"thanks, that fixed it! you're brilliant", "great, thank you so much, that's wonderful!", "perfect, thanks a lot, love it!"} {
		r := c.Compose(Input{Tone: analyzer.Analyze(text), Used: used}, "Your order ships today.")
		if r.Style != StyleWarmClose {
			t.Fatalf("turn %d %q: style %s, want a warm close", i, text, r.Style)
		}
		closes += strings.Count(strings.ToLower(r.Text), "anything else")
		used = append(append(used, r.AckKey), r.Said...)
	}
	if closes != 1 {
		t.Errorf("three happy turns asked %d times whether there is anything else, want once", closes)
	}
	r := c.Compose(Input{Tone: analyzer.Analyze("thanks, that fixed it!")}, "You're welcome! Anything else I can help with?")
	r = c.Compose(Input{Tone: analyzer.Analyze("great, thank you so much!"), Used: append([]string{r.AckKey}, r.Said...)}, "Your order ships today.")
	if strings.Contains(strings.ToLower(r.Text), "anything else") {
		t.Errorf("the answer before already asked; the close asks again: %q", r.Text)
	}
}
