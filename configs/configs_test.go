package configs_test

import (
	"testing"

	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
)

func TestEmbeddedConfigsAreValid(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{{configs.DemoName, configs.Demo}, {configs.MinimalName, configs.Minimal}} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.data) == 0 {
				t.Fatal("embedded file is empty")
			}
			cfg, err := intents.Parse(c.name, c.data)
			if err != nil {
				t.Fatalf("embedded configuration is invalid:\n%v", err)
			}
			if _, err := intents.Train(cfg); err != nil {
				t.Fatalf("train: %v", err)
			}
		})
	}
}

// TestDemoUnderstandsHeldOutQuestions asks the demo bot questions that are not among its examples,
// worded the way visitors type. A failure means the demo's examples (or the classifier) no longer
// cover their topics; the newcomer's first chat is exactly such a question.
func TestDemoUnderstandsHeldOutQuestions(t *testing.T) {
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	u, err := intents.Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ text, want string }{
		{"where's my parcel", "order_status"},
		{"how much does delivery cost to leeds", "delivery_cost"},
		{"have you got vegan cake", "vegan_options"},
		{"can I change the address on my order", "change_order"},
		{"I'd like a refund", "refund_request"},
		{"my cake was smashed", "complaint_damaged"},
		{"are you open on saturday", "opening_hours"},
		{"do you do gluten free", "gluten_free"},
		{"do you deliver to bath", "delivery_areas"},
		{"do you take paypal", "payment_methods"},
		{"how long does bread last", "faq/how_long_does_your_bread_stay_fresh"},
		{"where is the bakery", "faq/where_is_your_bakery"},
		{"my cake arrived broken", "complaint_damaged"},
		{"do you have loyalty points", "loyalty"},
		{"I need a VAT invoice", "faq/can_i_get_a_vat_invoice"},
		{"hi", intents.IntentGreeting},
		{"I want to speak to a human", intents.IntentHuman},
		{"are you a bot", intents.IntentBotCheck},
	}
	// Every question must rank its topic first; the confidence threshold belongs to the classifier's
	// calibration, so only most (not all) need to clear it.
	inScope := 0
	for _, tt := range tests {
		m := u.Understand(tt.text)
		if m.Prediction.Label != tt.want {
			t.Errorf("%q understood as %s (%.2f), want %s", tt.text, m.Prediction.Label, m.Prediction.Confidence, tt.want)
		}
		if m.InScope && m.Prediction.Label == tt.want {
			inScope++
		} else {
			t.Logf("%q: %s at %.2f is below the threshold", tt.text, m.Prediction.Label, m.Prediction.Confidence)
		}
	}
	if min := len(tests) * 4 / 5; inScope < min {
		t.Errorf("%d of %d held-out questions answered with confidence, want at least %d", inScope, len(tests), min)
	}
	for _, text := range []string{"what's the weather in bristol", "can you fix my boiler"} {
		if m := u.Understand(text); m.InScope {
			t.Errorf("%q understood as %s (%.2f), want out of scope", text, m.Prediction.Label, m.Prediction.Confidence)
		}
	}
}
