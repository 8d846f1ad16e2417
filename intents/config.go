// Package intents owns what a business tells Attune about itself: the YAML configuration model, its
// loading and validation, and (in subpackages) the understanding of visitor messages — the intent
// classifier (intents/nlu) and the tone analyzer (intents/tone).
package intents

import "time"

// Config is one business, as described by one YAML file. The zero value is not useful; obtain a
// Config from Parse or Load, which validate it and fill in defaults.
type Config struct {
	Version    int              `yaml:"version"`
	Business   Business         `yaml:"business"`
	Persona    Persona          `yaml:"persona"`
	Intents    []Intent         `yaml:"intents"`
	FAQ        []FAQEntry       `yaml:"faq"`
	Classifier ClassifierConfig `yaml:"classifier"`
	Tone       ToneConfig       `yaml:"tone"`
	Handoff    HandoffConfig    `yaml:"handoff"`
	LLM        LLMConfig        `yaml:"llm"`
	Widget     WidgetConfig     `yaml:"widget"`
	Privacy    PrivacyConfig    `yaml:"privacy"`

	// Source names where the configuration came from (a file path, or "embedded demo").
	Source string `yaml:"-"`
	// Digest is the SHA-256 of the bytes the configuration was parsed from (hot reload compares it).
	Digest []byte `yaml:"-"`
	// Location is Business.Timezone resolved at load.
	Location *time.Location `yaml:"-"`
	// Schedule is Business.Hours resolved at load.
	Schedule Schedule `yaml:"-"`
}

// Business is the profile of the business the bot speaks for.
type Business struct {
	Name        string            `yaml:"name"`
	Tagline     string            `yaml:"tagline"`
	Description string            `yaml:"description"`
	Timezone    string            `yaml:"timezone"`
	Hours       map[string]string `yaml:"hours"`
	Contact     Contact           `yaml:"contact"`
}

// Contact is how a visitor reaches a person at the business without the chat.
type Contact struct {
	Email   string `yaml:"email"`
	Phone   string `yaml:"phone"`
	Address string `yaml:"address"`
	Website string `yaml:"website"`
}

// Persona is the bot's voice.
type Persona struct {
	Name string `yaml:"name"`
	// Greeting opens every conversation; it must say that the visitor is talking to a bot.
	Greeting Variants `yaml:"greeting"`
	// Fallback answers a message the bot did not understand and could not clarify.
	Fallback Variants `yaml:"fallback"`
	// Clarify asks which of two close candidates the visitor meant; {options} lists them.
	Clarify Variants `yaml:"clarify"`
}

// Intent is one thing visitors ask for, with the phrasings that teach the classifier and the answer.
type Intent struct {
	Name     string   `yaml:"name"`
	Examples Phrases  `yaml:"examples"`
	Answer   Variants `yaml:"answer"`
	// Handoff marks topics that always need a person (refund disputes, complaints, ...).
	Handoff bool     `yaml:"handoff"`
	Tags    []string `yaml:"tags"`

	// Builtin is true for the intents every business gets (see Builtins).
	Builtin bool `yaml:"-"`
}

// FAQEntry is one question the business answers the same way every time.
type FAQEntry struct {
	ID        string   `yaml:"id"`
	Question  string   `yaml:"question"`
	Phrasings Phrases  `yaml:"phrasings"`
	Answer    Variants `yaml:"answer"`
	Tags      []string `yaml:"tags"`

	// Line is where the entry starts in the file, for error messages and explanations.
	Line int `yaml:"-"`
}

// ClassifierConfig tunes when a message counts as understood.
type ClassifierConfig struct {
	// Threshold is the confidence below which a message is out of scope; 0 means the default.
	Threshold float64 `yaml:"threshold"`
	// Ambiguity is the score gap under which the two best candidates are both offered back to the
	// visitor as a clarifying question; 0 means the default.
	Ambiguity float64 `yaml:"ambiguity"`
	// OutOfScope lists phrasings the bot should not try to answer (another business's topics).
	OutOfScope Phrases `yaml:"out_of_scope"`
}

// ToneConfig decides when and how the bot acknowledges feelings.
type ToneConfig struct {
	// Enabled turns tone analysis on; nil means on.
	Enabled *bool `yaml:"enabled"`
	// Thresholds per tone (frustration, confusion, anxiety, urgency, delight) above which the reply
	// acknowledges the feeling.
	Thresholds map[string]float64 `yaml:"thresholds"`
	// Acknowledgements per tone replace the built-in phrasing; {name} is the visitor's name if known.
	Acknowledgements map[string]Variants `yaml:"acknowledgements"`
}

// HandoffConfig decides when a person takes over, and what happens when none is available.
type HandoffConfig struct {
	// Enabled turns hand-off to agents on; nil means on. With it off the bot offers the contact details.
	Enabled *bool `yaml:"enabled"`
	// FrustrationThreshold hands over a visitor whose frustration reaches it.
	FrustrationThreshold float64 `yaml:"frustration_threshold"`
	// MaxUnresolvedTurns hands over after this many turns in a row the bot could not answer.
	MaxUnresolvedTurns int `yaml:"max_unresolved_turns"`
	// OfflineMessage is said when nobody is available (outside hours or no agent online).
	OfflineMessage string `yaml:"offline_message"`
	// WaitAlertSeconds alerts every online agent when a conversation waits longer than this.
	WaitAlertSeconds int `yaml:"wait_alert_seconds"`
	// GraceSeconds is how long an agent who lost their connection keeps their conversations.
	GraceSeconds int `yaml:"grace_seconds"`
	// Canned replies offered to agents in the console.
	Canned []CannedReply `yaml:"canned"`
}

// CannedReply is a ready-made agent reply.
type CannedReply struct {
	Title string `yaml:"title"`
	Text  string `yaml:"text"`
}

// LLMConfig points at an optional OpenAI-compatible endpoint. Without BaseURL and Model there is no LLM.
type LLMConfig struct {
	BaseURL         string   `yaml:"base_url"`
	Model           string   `yaml:"model"`
	APIKeyEnv       string   `yaml:"api_key_env"`
	TimeoutSeconds  float64  `yaml:"timeout_seconds"`
	MaxTokens       int      `yaml:"max_tokens"`
	Temperature     *float64 `yaml:"temperature"`
	EmbeddingsModel string   `yaml:"embeddings_model"`
	KnowledgeFiles  []string `yaml:"knowledge_files"`
	// TieBreaker lets the LLM choose between two topics the classifier finds too close to call,
	// instead of asking the visitor a clarifying question; nil means on.
	TieBreaker *bool `yaml:"tie_breaker"`
}

// TieBreakerEnabled reports whether ambiguous questions go to the LLM before the visitor is asked
// to choose. It only matters when an LLM endpoint is configured.
func (l LLMConfig) TieBreakerEnabled() bool { return l.TieBreaker == nil || *l.TieBreaker }

// WidgetConfig is the look and the limits of the embeddable chat widget.
type WidgetConfig struct {
	Title    string `yaml:"title"`
	Accent   string `yaml:"accent"`
	Position string `yaml:"position"`
	// AllowedOrigins are the sites allowed to open visitor sockets; empty means any origin.
	AllowedOrigins  []string `yaml:"allowed_origins"`
	MaxMessageChars int      `yaml:"max_message_chars"`
}

// PrivacyConfig says how long Attune keeps transcripts and what it hides.
type PrivacyConfig struct {
	// RetentionDays deletes conversations idle for longer than this; 0 means the default.
	RetentionDays int `yaml:"retention_days"`
}

// Defaults applied at load where the YAML leaves a value out.
const (
	DefaultThreshold = 0 // 0 defers to the classifier's own calibrated default
	// DefaultAmbiguity: on CLINC150 val, the answers whose two best topics are closer than 0.3
	// are right only 48 % of the time — a coin toss worth a question — and make up 3.3 % of
	// the answered messages; a smaller margin leaves most of those wrong answers unasked.
	DefaultAmbiguity            = 0.3
	DefaultMaxMessageChars      = 4000
	DefaultRetentionDays        = 90
	DefaultAccent               = "#3b5bdb"
	DefaultFrustrationThreshold = 0.7
	DefaultMaxUnresolvedTurns   = 3
	DefaultWaitAlertSeconds     = 120
	DefaultGraceSeconds         = 60
	DefaultLLMTimeoutSeconds    = 8
	DefaultLLMMaxTokens         = 400
	DefaultAPIKeyEnv            = "OPENAI_API_KEY"
)

// Retention is how long an idle conversation is kept.
func (c *Config) Retention() time.Duration {
	return time.Duration(c.Privacy.RetentionDays) * 24 * time.Hour
}

// HandoffEnabled reports whether conversations may be handed to agents.
func (c *Config) HandoffEnabled() bool { return c.Handoff.Enabled == nil || *c.Handoff.Enabled }

// ToneEnabled reports whether tone analysis runs.
func (c *Config) ToneEnabled() bool { return c.Tone.Enabled == nil || *c.Tone.Enabled }

// LLMEnabled reports whether an LLM endpoint is configured.
func (c *Config) LLMEnabled() bool { return c.LLM.BaseURL != "" && c.LLM.Model != "" }

// BotName is the persona's name, or a neutral one.
func (c *Config) BotName() string {
	if c.Persona.Name != "" {
		return c.Persona.Name
	}
	return "Assistant"
}

// Intent returns the intent with the given name.
func (c *Config) Intent(name string) (*Intent, bool) {
	for i := range c.Intents {
		if c.Intents[i].Name == name {
			return &c.Intents[i], true
		}
	}
	return nil, false
}

// FAQByID returns the FAQ entry with the given id.
func (c *Config) FAQByID(id string) (*FAQEntry, bool) {
	for i := range c.FAQ {
		if c.FAQ[i].ID == id {
			return &c.FAQ[i], true
		}
	}
	return nil, false
}
