package web

import (
	"encoding/json"
	"sync"

	"github.com/attune-chat/attune/bot"
)

// Hub fans conversation events out to the sockets watching each conversation. It is the one
// place cross-connection delivery happens, so that a multi-node deployment can later put a message
// broker behind the same bot.Publisher interface.
type Hub struct {
	mu    sync.RWMutex
	convs map[string]map[*client]struct{}
	// watchers see every event of every conversation (the agents' side filters what it needs).
	watchers []func(conversationID string, ev bot.Event)
}

// Watch registers w to be called with every event, before visitors are served; w must not block.
// Register watchers before the hub is used.
func (h *Hub) Watch(w func(conversationID string, ev bot.Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchers = append(h.watchers, w)
}

var _ bot.Publisher = (*Hub)(nil)

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{convs: map[string]map[*client]struct{}{}} }

func (h *Hub) subscribe(conversationID string, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set, ok := h.convs[conversationID]
	if !ok {
		set = map[*client]struct{}{}
		h.convs[conversationID] = set
	}
	set[c] = struct{}{}
}

func (h *Hub) unsubscribe(conversationID string, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set, ok := h.convs[conversationID]; ok {
		delete(set, c)
		if len(set) == 0 {
			delete(h.convs, conversationID)
		}
	}
}

// Publish delivers an event to every socket of the conversation. It never blocks: a socket whose
// outgoing queue is full is disconnected (it will resume from its last seq when it reconnects).
func (h *Hub) Publish(conversationID string, ev bot.Event) {
	h.mu.RLock()
	watchers := h.watchers
	h.mu.RUnlock()
	for _, w := range watchers {
		w(conversationID, ev)
	}
	var frame []byte
	var seq int64
	switch {
	case ev.Message != nil:
		f := messageFrameOf(ev.Message)
		f.StreamID, f.Name = ev.StreamID, ev.AgentName
		frame = mustJSON(f)
		seq = ev.Message.Seq
	case ev.State != nil:
		frame = mustJSON(stateFrameOf(ev.State))
	case ev.Stream != nil:
		frame = mustJSON(streamFrame{Type: "stream", StreamID: ev.Stream.ID, From: ev.Stream.From, Delta: ev.Stream.Delta})
	case ev.Notice != "":
		// Not about a frame the client sent (no id): the server is in trouble, the client need
		// not resend anything.
		frame = mustJSON(errorFrame{Type: "error", Code: codeUnavailable, Message: ev.Notice})
	case ev.Typing != nil:
		if ev.Typing.From == bot.FromVisitor {
			return // visitors do not need to see themselves typing in their other tabs
		}
		frame = mustJSON(typingFrame{Type: "typing", From: ev.Typing.From, On: ev.Typing.On})
	default:
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.convs[conversationID] {
		c.deliver(frame, seq)
	}
}

// Clients returns how many sockets are connected.
func (h *Hub) Clients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.convs {
		n += len(set)
	}
	return n
}

// mustJSON marshals the server's own frame types, which cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("web: encode frame: " + err.Error()) // a programming error in a frame type, never input
	}
	return b
}
