package llm

import "testing"

// The formats people really type personal data in are redacted, and the ordinary numbers of a
// support chat (order numbers, prices, dates, times) stay, so the model can still help with them.
func TestRedact_Formats(t *testing.T) {
	redacted := []struct{ in, want string }{
		{"card 4111.1111.1111.1111 please", "card [CARD_1] please"},
		{"card 4111\u00a01111\u00a01111\u00a01111", "card [CARD_1]"},
		{"amex 3782 822463 10005", "amex [CARD_1]"},
		{"call me on 555-0123", "call me on [PHONE_1]"},
		{"my number is 5550123", "my number is [PHONE_1]"},
		{"phone: 555 0123", "phone: [PHONE_1]"},
		{"text me at 555.0123 tonight", "text me at [PHONE_1] tonight"},
		{"my phone number is 555 01 23", "my phone number is [PHONE_1]"},
		{"mobile 555-0123, thanks", "mobile [PHONE_1], thanks"},
		{"my cell is (555) 123-4567", "my cell is [PHONE_1]"},
		{"Festnetz 030/12345678", "Festnetz [PHONE_1]"},
		{"call 0171/1234567", "call [PHONE_1]"},
		{"+44 (0)20 7946 0958", "[PHONE_1]"},
		{"1-800-555-0199", "[PHONE_1]"},
		{"my account number is 0123456789", "my account number is [PHONE_1]"},
		{"call me on 555-0123 about order 1234567", "call me on [PHONE_1] about order 1234567"},
	}
	kept := []string{
		"order 123-4567",
		"order number 5550123",
		"my order number is 5550123",
		"order 0012345678",
		"order #1002345678",
		"ref 20240501-0042",
		"invoice INV-2024-000123",
		"order 112-4567890-1234567", // a 14-digit run inside passes Luhn
		"Order: 100-200-3000",
		"delivery on 01.05.2024",
		"on 05.01.2024 at 09:30",
		"2024-05-01 09:30",
		"on 01/05/2024 10:00",
		"delivered 01.05.2024 10:15",
		"from 01.05.2024 to 03.05.2024",
		"I ordered 3 items for 45.99 on 12/05/2024",
		"it cost 1,299.00, or 1.299,00 €",
		"1.299.000 points",
		"open 08:00-17:30, 3-5 days",
		"price 1299.00",
		"order 1045233 placed",
		"tracking 1Z999AA10123456784",
	}
	for _, tc := range redacted {
		if got, _ := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	for _, in := range kept {
		if got, _ := Redact(in); got != in {
			t.Errorf("Redact(%q) = %q; an ordinary number was taken for personal data", in, got)
		}
	}
}

// A phone number keeps its whole written form for the reply, parenthesis included.
func TestRedact_PhoneRestoresAsWritten(t *testing.T) {
	red, rs := Redact("call me on (555) 123-4567 or 555-0123")
	if red != "call me on [PHONE_1] or [PHONE_2]" {
		t.Fatalf("redacted %q still holds part of a number", red)
	}
	if got := rs.Restore("We will call [PHONE_1], else [PHONE_2]."); got != "We will call (555) 123-4567, else 555-0123." {
		t.Fatalf("restored %q", got)
	}
}
