package llm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults for Options left zero.
const (
	DefaultTopK            = 5
	DefaultHistoryTurns    = 6
	DefaultMaxReplyChars   = 1200
	DefaultBreakerFailures = 3
	DefaultBreakerCooldown = 30 * time.Second
	// defaultRetryAfter is the pause before the single retry of a 429 that did not say how long.
	defaultRetryAfter = 500 * time.Millisecond
)

// Protocol is how the model returns the structured part of an answer (covered, sources).
type Protocol int

const (
	// ProtocolTrailer asks for plain text ending with a machine-readable trailer line, which is
	// parsed and never shown. It streams on every OpenAI-compatible server, including those whose
	// tool-call streaming is missing or broken, and is the default.
	ProtocolTrailer Protocol = iota
	// ProtocolTool forces a call of the function answer(text, sources, covered); the text is
	// streamed out of the argument fragments as they arrive. Use it with servers that implement
	// tool calls well (OpenAI, vLLM with a tool parser).
	ProtocolTool
)

// Options configure a Client. Endpoint and Knowledge are required.
type Options struct {
	Endpoint  Endpoint
	Knowledge *Knowledge
	// HTTPClient is used for every call; nil means a client with sane connection timeouts. Its own
	// Timeout should stay 0: each call is bounded by Endpoint.Timeout through its context.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	Protocol   Protocol
	// TopK facts are retrieved per question (default 5).
	TopK int
	// HistoryTurns is how many recent turns of the conversation are sent (default 6).
	HistoryTurns int
	// MaxReplyChars bounds a reply (default 1200 characters).
	MaxReplyChars int
	// BreakerFailures consecutive failures open the circuit for BreakerCooldown (defaults 3, 30 s).
	BreakerFailures int
	BreakerCooldown time.Duration
}

// Client talks to one OpenAI-compatible endpoint. It is safe for concurrent use. A nil *Client is
// valid for the agent-assist methods, which then return their template fallbacks.
type Client struct {
	ep       Endpoint
	api      *openai.Client
	log      *slog.Logger
	now      func() time.Time
	protocol Protocol
	topK     int
	history  int
	maxChars int
	know     atomic.Pointer[Knowledge]
	breaker  *breaker
	emb      embeddings
}

// New builds a Client. It does not contact the endpoint.
func New(opt Options) (*Client, error) {
	if opt.Endpoint.BaseURL == "" || opt.Endpoint.Model == "" {
		return nil, errors.New("llm.New: Endpoint needs BaseURL and Model (see EndpointFrom)")
	}
	if opt.Knowledge == nil {
		return nil, errors.New("llm.New: Knowledge is required (see BuildKnowledge)")
	}
	c := &Client{ep: opt.Endpoint, log: opt.Logger, now: opt.Now, protocol: opt.Protocol, topK: opt.TopK, history: opt.HistoryTurns, maxChars: opt.MaxReplyChars}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.topK <= 0 {
		c.topK = DefaultTopK
	}
	if c.history <= 0 {
		c.history = DefaultHistoryTurns
	}
	if c.maxChars <= 0 {
		c.maxChars = DefaultMaxReplyChars
	}
	if c.ep.Timeout <= 0 {
		c.ep.Timeout = 8 * time.Second
	}
	failures, cooldown := opt.BreakerFailures, opt.BreakerCooldown
	if failures <= 0 {
		failures = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	c.breaker = &breaker{threshold: failures, cooldown: cooldown, now: c.now}
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 0, // bounded by the call's context, which includes the first token
		}}
	}
	cfg := openai.DefaultConfig(string(c.ep.key))
	cfg.BaseURL = c.ep.BaseURL
	cfg.HTTPClient = &watchingDoer{hc: hc}
	c.api = openai.NewClientWithConfig(cfg)
	c.know.Store(opt.Knowledge)
	c.emb.sem = make(chan struct{}, 1)
	return c, nil
}

// SetKnowledge swaps in the knowledge of a reloaded configuration; calls already running finish
// with the old one. Cached embeddings belong to the old knowledge and are recomputed lazily.
func (c *Client) SetKnowledge(k *Knowledge) {
	if k != nil {
		c.know.Store(k)
	}
}

// Knowledge returns the knowledge in force.
func (c *Client) Knowledge() *Knowledge { return c.know.Load() }

// Endpoint returns the resolved endpoint (its String never shows the key).
func (c *Client) Endpoint() Endpoint { return c.ep }

// BreakerState reports the circuit breaker's state: "closed", "open" or "half-open".
func (c *Client) BreakerState() string { return c.breaker.state() }

// watchingDoer records, per call, the status and Retry-After of the response and whether a
// stream really ended with data: [DONE]. The per-call record travels in the request context.
type watchingDoer struct{ hc *http.Client }

func (d *watchingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.hc.Do(req)
	st, _ := req.Context().Value(callStateKey{}).(*callState)
	if err != nil || st == nil {
		return resp, err
	}
	st.status = resp.StatusCode
	st.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body = &doneWatcher{rc: resp.Body, st: st}
	} else {
		resp.Body = &bodyWatcher{rc: resp.Body, st: st}
	}
	return resp, nil
}

// parseRetryAfter reads both forms of the header: delay-seconds and an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

type bodyWatcher struct {
	rc io.ReadCloser
	st *callState
}

func (b *bodyWatcher) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.st.sawBody = true
	}
	return n, err
}

func (b *bodyWatcher) Close() error { return b.rc.Close() }

// doneWatcher scans the event stream for the terminating "data: [DONE]" line.
type doneWatcher struct {
	rc   io.ReadCloser
	st   *callState
	tail []byte
}

var doneLine = []byte("data: [DONE]")

func (w *doneWatcher) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if n > 0 {
		w.st.sawBody = true
		if !w.st.sawDone {
			buf := append(w.tail, p[:n]...)
			if containsDone(buf) {
				w.st.sawDone = true
			}
			if len(buf) > len(doneLine)+2 {
				buf = buf[len(buf)-len(doneLine)-2:]
			}
			w.tail = append(w.tail[:0], buf...)
		}
	}
	return n, err
}

func containsDone(b []byte) bool {
	return strings.Contains(string(b), "data: [DONE]") || strings.Contains(string(b), "data:[DONE]")
}

func (w *doneWatcher) Close() error { return w.rc.Close() }

// breaker is a consecutive-failure circuit breaker: after threshold failures in a row it opens for
// cooldown, then lets exactly one probe through (half-open); the probe's outcome closes or
// re-opens it.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu       sync.Mutex
	failures int
	openedAt time.Time
	open     bool
	probing  bool
}

// allow reports whether a call may go ahead.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.probing || b.now().Sub(b.openedAt) < b.cooldown {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.failures, b.open, b.probing = 0, false, false
		return
	}
	b.failures++
	if b.probing || b.failures >= b.threshold {
		b.open, b.openedAt, b.probing = true, b.now(), false
	}
}

// release gives back a probe slot whose call ended without telling us anything about the
// endpoint (the visitor went away).
func (b *breaker) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

func (b *breaker) state() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.open:
		return "closed"
	case b.probing || b.now().Sub(b.openedAt) >= b.cooldown:
		return "half-open"
	default:
		return "open"
	}
}

// guarded runs one endpoint exchange under the breaker, the call timeout and the single 429
// retry. fn is called with a context that carries a fresh callState per attempt.
func (c *Client) guarded(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if !c.breaker.allow() {
		return &UnavailableError{Reason: ReasonCircuitOpen, detail: "the endpoint failed repeatedly; calls resume after the cool-down"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.ep.Timeout)
	defer cancel()
	start := c.now()
	for attempt := 0; ; attempt++ {
		st := &callState{}
		err := fn(context.WithValue(ctx, callStateKey{}, st))
		if err == nil {
			c.breaker.record(true)
			return nil
		}
		ue := classify(ctx, err, st, c.ep.key)
		if ue.Reason == ReasonRateLimited && attempt == 0 {
			wait := ue.RetryAfter
			if wait <= 0 {
				wait = defaultRetryAfter
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) > wait {
				c.log.Info("llm rate limited, retrying once", "op", op, "wait", wait)
				t := time.NewTimer(wait)
				select {
				case <-t.C:
					continue
				case <-ctx.Done():
					t.Stop()
					ue = classify(ctx, ctx.Err(), st, c.ep.key)
				}
			}
		}
		if ue.Reason == ReasonCanceled {
			c.breaker.release()
		} else {
			c.breaker.record(false)
		}
		c.log.Warn("llm call failed", "op", op, "reason", ue.Reason, "status", ue.Status, "elapsed", c.now().Sub(start).Round(time.Millisecond), "error", ue.detail)
		return ue
	}
}
