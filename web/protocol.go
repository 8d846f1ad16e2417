package web

import (
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/store"
)

// Frames of the visitor protocol v1 (docs/protocol.md). Every frame is one JSON object with a type.

// inFrame is any frame a visitor sends; fields unused by a type are ignored.
type inFrame struct {
	Type    string  `json:"type"`
	Token   *string `json:"token"`
	LastSeq *int64  `json:"last_seq"`
	// New asks, with the token of a conversation that ended, for another conversation of the
	// same visitor (type "hello").
	New  bool    `json:"new"`
	ID   string  `json:"id"`
	Text *string `json:"text"`
	On   *bool   `json:"on"`
	// Email is the address a waiting visitor leaves to be contacted at (type "email").
	Email *string `json:"email"`
}

type welcomeFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Token          string `json:"token"`
	State          string `json:"state"`
	Resumed        bool   `json:"resumed"`
	MaxChars       int    `json:"max_chars"`
	// LastSeq is the conversation's latest seq when the hello was answered: the replay that
	// follows ends there, and anything above it is new. A client uses it to tell history (not
	// announced again) from new messages.
	LastSeq int64 `json:"last_seq"`
}

type ackFrame struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
}

type messageFrame struct {
	Type     string `json:"type"`
	Seq      int64  `json:"seq"`
	From     string `json:"from"`
	Text     string `json:"text"`
	At       string `json:"at"`
	ClientID string `json:"client_id,omitempty"`
	// StreamID is set on the message that ends a stream: it replaces what was streamed.
	StreamID string `json:"stream_id,omitempty"`
	// Name is the agent's display name on a live agent message.
	Name string `json:"name,omitempty"`
}

// stateFrame tells the visitor who looks after the conversation now.
type stateFrame struct {
	Type         string `json:"type"`
	State        string `json:"state"`
	Position     int    `json:"position,omitempty"`
	ETASeconds   *int   `json:"eta_seconds,omitempty"`
	AgentsOnline *int   `json:"agents_online,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Agent        string `json:"agent,omitempty"`
	Offline      bool   `json:"offline,omitempty"`
}

// visitorReasons word the hand-off reasons for the visitor (the widget shows them under the
// queue position); the codes themselves are for agents and logs.
var visitorReasons = map[string]string{
	"asked_for_person":      "You asked to talk to a person.",
	"frustration":           "A person from the team can sort this out with you directly.",
	"needs_person":          "This is something a person from the team handles.",
	"unresolved":            "A person from the team can help with your question.",
	"assistant_unavailable": "Our assistant is unavailable, so a person will answer.",
	"assistant_declined":    "This needs someone from the team.",
}

func stateFrameOf(sc *bot.StateChange) stateFrame {
	reason := visitorReasons[sc.Reason]
	if reason == "" && sc.Reason != "" {
		reason = "A person from the team will help you."
	}
	f := stateFrame{Type: "state", State: sc.State, Reason: reason, Agent: sc.Agent, Offline: sc.Offline}
	if sc.State == store.StateQueued {
		f.Position = sc.Position
		online := sc.AgentsOnline
		f.AgentsOnline = &online
		if sc.ETA != nil {
			secs := int(sc.ETA.Round(time.Second).Seconds())
			f.ETASeconds = &secs
		}
	}
	return f
}

type streamFrame struct {
	Type     string `json:"type"`
	StreamID string `json:"stream_id"`
	From     string `json:"from"`
	Delta    string `json:"delta"`
}

type typingFrame struct {
	Type string `json:"type"`
	From string `json:"from"`
	On   bool   `json:"on"`
}

type errorFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

// Error codes of error frames.
const (
	codeBadFrame    = "bad_frame"
	codeUnknownType = "unknown_type"
	codeTooLong     = "too_long"
	codeRateLimited = "rate_limited"
	codeNotReady    = "not_ready"
	// codeUnavailable means the server could not store the message; it was not acknowledged and
	// the client should send it again (with the same id) a little later. Without an id it says
	// that the bot's answer could not be stored and comes later: nothing to resend.
	codeUnavailable = "unavailable"
)

func messageFrameOf(m *store.Message) messageFrame {
	return messageFrame{Type: "message", Seq: m.Seq, From: m.From, Text: m.Text, At: m.At.UTC().Format(time.RFC3339), ClientID: m.ClientID}
}
