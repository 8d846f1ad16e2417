package web

import (
	"sync"

	"github.com/gorilla/websocket"
)

// socket is what visitor and agent connections share: the outgoing queue drained by the write
// pump, and an idempotent close that tells the write pump to flush and say goodbye.
type socket struct {
	conn *websocket.Conn
	send chan []byte
	done chan struct{}
	once sync.Once

	closeCode   int
	closeReason string
	// slowReason is the close reason given to a peer too slow to take its frames.
	slowReason string
}

func newSocket(conn *websocket.Conn, queue int, slowReason string) socket {
	return socket{conn: conn, send: make(chan []byte, queue), done: make(chan struct{}), slowReason: slowReason}
}

// enqueue never blocks: a peer too slow to take its frames is disconnected (it resumes when it
// reconnects) rather than allowed to hold up everyone else.
func (k *socket) enqueue(frame []byte) {
	select {
	case k.send <- frame:
	case <-k.done:
	default:
		k.close(websocket.CloseTryAgainLater, k.slowReason)
	}
}

func (k *socket) sendFrame(v any) { k.enqueue(mustJSON(v)) }

// close ends the connection with a close frame; safe to call more than once from any goroutine.
func (k *socket) close(code int, reason string) {
	k.once.Do(func() {
		k.closeCode, k.closeReason = code, reason
		close(k.done)
	})
}
