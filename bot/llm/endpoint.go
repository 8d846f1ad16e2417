// Package llm is Attune's optional large-language-model layer: grounded, streamed, private and
// fail-safe answers through any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp
// server, LM Studio), plus agent assist (hand-off summaries, suggested replies) and an optional
// intent tie-breaker.
//
// Everything here is built so that the caller can always fall back: every failure of the endpoint
// is an *UnavailableError (errors.Is(err, ErrUnavailable)) returned within the configured timeout,
// a circuit breaker stops calling an endpoint that keeps failing, and the model's reply is checked
// before it is returned. Personal data is redacted before any text leaves the process.
package llm

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/attune-chat/attune/intents"
)

// Environment variables that override the YAML llm section, so that an operator can point a
// packaged configuration at another endpoint without editing it.
const (
	EnvBaseURL = "ATTUNE_LLM_BASE_URL"
	EnvModel   = "ATTUNE_LLM_MODEL"
	EnvAPIKey  = "ATTUNE_LLM_API_KEY"
)

// secret holds an API key. Its formatting methods never print the value, so that a key cannot leak
// through a %v of a struct that contains it.
type secret string

func (s secret) String() string   { return "[redacted]" }
func (s secret) GoString() string { return `"[redacted]"` }

// Endpoint is a resolved LLM endpoint: the YAML section with defaults and environment overrides
// applied. Its String, GoString and LogValue never include the API key.
type Endpoint struct {
	// BaseURL is the OpenAI-compatible API root, e.g. https://api.openai.com/v1.
	BaseURL string
	// Model is the chat model name the endpoint serves.
	Model string
	// EmbeddingsModel enables hybrid retrieval through /v1/embeddings when set.
	EmbeddingsModel string
	// KeySource names where the key came from (an environment variable), for diagnostics.
	KeySource string
	// Timeout bounds every call, retries included: the visitor never waits longer.
	Timeout time.Duration
	// MaxTokens caps the length of a generated reply. It is sent as max_tokens, which
	// go-openai marks deprecated: OpenAI replaced it only for its reasoning models, and it is
	// the field the self-hosted OpenAI-compatible servers (llama.cpp, vLLM, Ollama) read.
	MaxTokens int
	// Temperature is nil when the endpoint's default should be used.
	Temperature *float64

	key secret
}

// EndpointFrom resolves the llm section of a configuration. getenv is os.Getenv in production and
// a map lookup in tests; nil means os.Getenv. The key is read from ATTUNE_LLM_API_KEY, else from
// the variable named by api_key_env (default OPENAI_API_KEY); a missing key is not an error because
// local servers (Ollama, llama.cpp) need none. It returns ok=false when no endpoint is configured.
func EndpointFrom(cfg intents.LLMConfig, getenv func(string) string) (ep Endpoint, ok bool, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	ep = Endpoint{
		BaseURL:         strings.TrimSpace(cfg.BaseURL),
		Model:           strings.TrimSpace(cfg.Model),
		EmbeddingsModel: strings.TrimSpace(cfg.EmbeddingsModel),
		MaxTokens:       cfg.MaxTokens,
		Temperature:     cfg.Temperature,
		Timeout:         time.Duration(cfg.TimeoutSeconds * float64(time.Second)),
	}
	if v := strings.TrimSpace(getenv(EnvBaseURL)); v != "" {
		ep.BaseURL = v
	}
	if v := strings.TrimSpace(getenv(EnvModel)); v != "" {
		ep.Model = v
	}
	if ep.BaseURL == "" && ep.Model == "" {
		return Endpoint{}, false, nil
	}
	if ep.BaseURL == "" || ep.Model == "" {
		return Endpoint{}, false, fmt.Errorf("llm endpoint: both base_url and model are needed (set them in the llm section or with %s and %s)", EnvBaseURL, EnvModel)
	}
	u, perr := url.Parse(ep.BaseURL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Endpoint{}, false, fmt.Errorf("llm endpoint: base_url %q is not an http(s) URL", redactURL(ep.BaseURL))
	}
	if u.User != nil {
		return Endpoint{}, false, fmt.Errorf("llm endpoint: base_url must not carry credentials; put the key in an environment variable")
	}
	ep.BaseURL = strings.TrimRight(ep.BaseURL, "/")
	if ep.Timeout <= 0 {
		ep.Timeout = intents.DefaultLLMTimeoutSeconds * time.Second
	}
	if ep.MaxTokens <= 0 {
		ep.MaxTokens = intents.DefaultLLMMaxTokens
	}
	keyEnv := cfg.APIKeyEnv
	if keyEnv == "" {
		keyEnv = intents.DefaultAPIKeyEnv
	}
	if v := strings.TrimSpace(getenv(EnvAPIKey)); v != "" {
		ep.key, ep.KeySource = secret(v), EnvAPIKey
	} else if v := strings.TrimSpace(getenv(keyEnv)); v != "" {
		ep.key, ep.KeySource = secret(v), keyEnv
	}
	return ep, true, nil
}

// temperature is the value for a request's temperature field. go-openai omits a zero from the
// JSON, which would leave the endpoint's own default (1.0 on OpenAI) in force, so a configured 0
// is sent as the smallest positive float32, which every server treats as 0 (greedy sampling).
// Unset stays 0: omitted, the endpoint's default.
func (e Endpoint) temperature() float32 {
	if e.Temperature == nil {
		return 0
	}
	if *e.Temperature == 0 {
		return math.SmallestNonzeroFloat32
	}
	return float32(*e.Temperature)
}

// HasKey reports whether an API key was found.
func (e Endpoint) HasKey() bool { return e.key != "" }

// String describes the endpoint for logs and the console, without the key.
func (e Endpoint) String() string {
	key := "no key"
	if e.key != "" {
		key = "key from " + e.KeySource
	}
	s := fmt.Sprintf("%s model=%s (%s, timeout %s)", redactURL(e.BaseURL), e.Model, key, e.Timeout)
	if e.EmbeddingsModel != "" {
		s += " embeddings=" + e.EmbeddingsModel
	}
	return s
}

// GoString keeps %#v from printing the key.
func (e Endpoint) GoString() string { return "llm.Endpoint{" + e.String() + "}" }

// LogValue keeps slog from printing the key.
func (e Endpoint) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", redactURL(e.BaseURL)),
		slog.String("model", e.Model),
		slog.Bool("key", e.key != ""),
		slog.Duration("timeout", e.Timeout),
	)
}

// redactURL drops query strings and user info, where some proxies expect a key.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}
