package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// ErrUnavailable matches every failure of the endpoint (errors.Is): the caller falls back to the
// FAQ's best match, a clarifying question or a hand-off with reason "assistant unavailable".
var ErrUnavailable = errors.New("assistant unavailable")

// ErrInvalidLabel is returned by ClassifyIntent when the model names no candidate.
var ErrInvalidLabel = errors.New("llm classification is not one of the candidates")

// Reasons an endpoint call failed (UnavailableError.Reason).
const (
	ReasonTimeout     = "timeout"
	ReasonCanceled    = "canceled"
	ReasonRateLimited = "rate_limited"
	ReasonServer      = "server_error"
	ReasonAuth        = "auth"
	ReasonRejected    = "rejected"
	ReasonBadResponse = "bad_response"
	ReasonStreamCut   = "stream_cut"
	ReasonUnreachable = "unreachable"
	ReasonCircuitOpen = "circuit_open"
	ReasonDisabled    = "disabled"
)

// UnavailableError says why the endpoint could not be used. Its message never contains the API
// key: the underlying error text is scrubbed before it is stored, and the original error is not
// kept (only context errors, for errors.Is).
type UnavailableError struct {
	Reason string
	// Status is the HTTP status when the endpoint answered with an error, else 0.
	Status int
	// RetryAfter is what a 429 asked for, when it said.
	RetryAfter time.Duration
	detail     string
	ctxErr     error
}

// Error describes the failure without the API key.
func (e *UnavailableError) Error() string {
	s := "llm: assistant unavailable (" + e.Reason
	if e.Status != 0 {
		s += fmt.Sprintf(", HTTP %d", e.Status)
	}
	s += ")"
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

// Unwrap lets errors.Is match ErrUnavailable and, for timeouts, context.DeadlineExceeded.
func (e *UnavailableError) Unwrap() []error {
	if e.ctxErr != nil {
		return []error{ErrUnavailable, e.ctxErr}
	}
	return []error{ErrUnavailable}
}

// Reason returns why err made the assistant unavailable, or "" if it is not such an error.
func Reason(err error) string {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue.Reason
	}
	return ""
}

// callState is what the transport saw of one HTTP exchange: go-openai's errors do not carry
// headers, and its stream reader reports a cut stream as a normal end.
type callState struct {
	status     int
	retryAfter time.Duration
	sawDone    bool
	sawBody    bool
}

type callStateKey struct{}

// classify turns whatever went wrong into an *UnavailableError. key is scrubbed from the detail.
func classify(ctx context.Context, err error, st *callState, key secret) *UnavailableError {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue
	}
	if st == nil {
		st = &callState{}
	}
	out := &UnavailableError{Reason: ReasonBadResponse, RetryAfter: st.retryAfter}
	if st.status >= 400 {
		out.Status = st.status
	}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	status := out.Status
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	}
	var opErr *net.OpError
	var synErr *json.SyntaxError
	var typErr *json.UnmarshalTypeError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		out.Reason, out.ctxErr = ReasonTimeout, context.DeadlineExceeded
	case ctx.Err() != nil, errors.Is(err, context.Canceled):
		out.Reason, out.ctxErr = ReasonCanceled, context.Canceled
	case status == 429:
		out.Reason = ReasonRateLimited
	case status == 401 || status == 403:
		out.Reason = ReasonAuth
	case status >= 500:
		out.Reason = ReasonServer
	case status >= 400:
		out.Reason = ReasonRejected
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET) && !st.sawBody,
		errors.As(err, &opErr) && !st.sawBody:
		out.Reason = ReasonUnreachable
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, errStreamCut):
		out.Reason = ReasonStreamCut
	case errors.As(err, &synErr), errors.As(err, &typErr), errors.Is(err, openai.ErrTooManyEmptyStreamMessages):
		out.Reason = ReasonBadResponse
	}
	if status >= 400 {
		out.Status = status
	}
	if err != nil {
		out.detail = scrub(err.Error(), key)
	}
	return out
}

var errStreamCut = errors.New("stream ended without data: [DONE]")

// scrub removes the key, and anything that looks like a bearer token, from an error text; the
// text is also bounded because error bodies can be whole HTML pages.
func scrub(s string, key secret) string {
	if key != "" {
		s = strings.ReplaceAll(s, string(key), "[redacted]")
	}
	if i := strings.Index(strings.ToLower(s), "bearer "); i >= 0 {
		end := i + len("bearer ")
		for end < len(s) && s[end] != ' ' && s[end] != '"' && s[end] != ',' {
			end++
		}
		s = s[:i] + "Bearer [redacted]" + s[end:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
