package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/attune-chat/attune/bot/empathy"
	"github.com/attune-chat/attune/bot/llm"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/store"
)

// Reply sources: where the words of a bot message came from.
const (
	SourceBuiltin  = "builtin"
	SourceIntent   = "intent"
	SourceFAQ      = "faq"
	SourceClarify  = "clarify"
	SourceFallback = "fallback"
	SourceContact  = "contact"
	SourceLLM      = "llm"
	SourceHandoff  = "handoff"
)

// Policy rules: which rule decided what the bot did.
const (
	RuleGreeting          = "greeting"
	RuleMatchedIntent     = "matched_intent"
	RuleMatchedFAQ        = "matched_faq"
	RuleBelowThreshold    = "below_threshold"
	RuleAmbiguous         = "ambiguous"
	RuleClarifyConfirmed  = "clarify_confirmed"
	RuleClarifyDeclined   = "clarify_declined"
	RuleAskedForPerson    = "asked_for_person"
	RuleIntentNeedsPerson = "intent_needs_person"
	RuleUnresolvedLimit   = "unresolved_limit"
	RuleLLMGrounded       = "llm_grounded"
	RuleLLMNotCovered     = "llm_not_covered"
	RuleLLMUnavailable    = "llm_unavailable"
	// RuleLLMTieBreak: the classifier found two topics too close to call and the LLM chose one,
	// so the visitor got an answer instead of a clarifying question.
	RuleLLMTieBreak = "llm_tie_break"
	// RuleHandoffPrefix precedes the hand-off reason: handoff_frustration, handoff_asked_for_person ...
	RuleHandoffPrefix = "handoff_"
)

// dialogue is what the bot remembers between turns of one conversation.
type dialogue struct {
	// unresolved counts consecutive visitor turns the bot could not answer.
	unresolved int
	// clarifying holds the labels offered by the last clarifying question, best first.
	clarifying []string
	turns      int
	// trajectory is how the visitor's tone has moved over the conversation.
	trajectory tone.Trajectory
	// acks are the keys of the acknowledgements and stock sentences (the offer of a person, the
	// warm close, the sentences of hand-off explanations, the fallback) already said: never say
	// the same one twice. Kept in every decision record.
	acks []string
	// history is the recent conversation, for the LLM's context.
	history []llm.Turn
	// restorer keeps personal-data placeholders stable across the conversation's LLM turns.
	restorer *llm.Restorer
	// name is what the visitor said they are called, for personal acknowledgements.
	name string
}

// historyTurns bounds the conversation kept in memory for the LLM.
const historyTurns = 12

func (st *dialogue) remember(from, text string) {
	st.history = append(st.history, llm.Turn{From: from, Text: text})
	if len(st.history) > historyTurns {
		st.history = st.history[len(st.history)-historyTurns:]
	}
}

// details is the free-form part of a decision record: the evidence behind the decision, kept so
// that a business (and later an agent) can see why the bot said what it said.
type details struct {
	Match      *intents.Match    `json:"match,omitempty"`
	Threshold  float64           `json:"threshold,omitempty"`
	Clarifying []string          `json:"clarifying,omitempty"`
	Unresolved int               `json:"unresolved"`
	Tone       *tone.Result      `json:"tone,omitempty"`
	Signals    *tone.Signals     `json:"signals,omitempty"`
	Trajectory *tone.Trajectory  `json:"trajectory,omitempty"`
	Reply      *empathy.Reply    `json:"reply,omitempty"`
	Acks       []string          `json:"acks,omitempty"`
	LLM        *llmDetails       `json:"llm,omitempty"`
	TieBreak   *tieBreak         `json:"tie_break,omitempty"`
	Handoff    *handoff.Decision `json:"handoff,omitempty"`
	// VisitorName is the name the visitor gave, kept so that a rebuilt conversation still
	// addresses them by it (it is in the transcript already, and goes with it).
	VisitorName string `json:"visitor_name,omitempty"`
}

// llmDetails records what the LLM layer did in a turn.
type llmDetails struct {
	Sources   []string `json:"sources,omitempty"`
	Covered   bool     `json:"covered"`
	Blocked   string   `json:"blocked,omitempty"`
	Injection bool     `json:"injection,omitempty"`
	Redacted  int      `json:"redacted,omitempty"`
	ElapsedMS int64    `json:"elapsed_ms"`
	// Failure is why the endpoint gave no answer (timeout, rate_limited, circuit_open, ...).
	Failure string `json:"failure,omitempty"`
}

// tieBreak records the LLM's choice between two topics the classifier could not separate.
type tieBreak struct {
	Candidates []string `json:"candidates"`
	// Chosen is empty when the LLM gave no usable answer; the visitor is then asked to choose.
	Chosen    string `json:"chosen,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
	Failure   string `json:"failure,omitempty"`
}

// respond runs one bot turn for a stored visitor message.
func (e *Engine) respond(ctx context.Context, c *conversation, m store.Message) error {
	if c.state == nil {
		conv, err := e.store.Conversation(ctx, c.id)
		if err != nil {
			return fmt.Errorf("load conversation: %w", err)
		}
		c.state = e.restore(ctx, conv, m.Seq)
		e.mu.Lock()
		if c.owner == "" {
			c.owner = conv.State
		}
		e.mu.Unlock()
	}
	switch owner := e.owner(c); owner {
	case store.StateBot:
	case store.StateClosed:
		// A visitor writing again after a closed chat is talking to the bot again.
		if err := e.store.SetState(ctx, c.id, store.StateBot); err != nil {
			return fmt.Errorf("reopen conversation: %w", err)
		}
		e.SetOwner(c.id, store.StateBot)
		e.pub.Publish(c.id, Event{State: &StateChange{State: store.StateBot}})
	case store.StateQueued:
		// The bot stays silent while the visitor waits for a person, but reads the tone: a visitor
		// growing upset or urgent in the queue moves up.
		e.raiseWaiting(ctx, c.id, m.Text)
		return nil
	default:
		return nil // a person owns the conversation: the bot stays silent
	}
	e.mu.Lock()
	stale := c.stale
	c.stale = false
	e.mu.Unlock()
	if stale {
		e.reloadHistory(ctx, c.state, c.id, m.Seq)
	}
	e.pub.Publish(c.id, Event{Typing: &Typing{From: FromBot, On: true}})
	defer e.pub.Publish(c.id, Event{Typing: &Typing{From: FromBot, On: false}})

	text, d, streamID, change := e.decide(ctx, e.know.Load(), c, m)
	d.InReplyTo = m.Seq
	if _, err := e.appendBot(ctx, c, text, d, streamID); err != nil {
		if err := e.storeLate(c, m, text, d, streamID, err); err != nil {
			return err
		}
	}
	if change != nil {
		e.pub.Publish(c.id, Event{State: change})
	}
	return nil
}

// raiseWaiting passes the tone of a waiting visitor's message to the queue's priority.
func (e *Engine) raiseWaiting(ctx context.Context, conversationID, text string) {
	if e.handoff == nil || !e.Understanding().Config.ToneEnabled() {
		return
	}
	r := e.tone.Analyze(text)
	mood := handoff.Mood{Frustration: r.Scores["frustration"], Anxiety: r.Scores["anxiety"], Urgency: r.Scores["urgency"], Dominant: r.Dominant}
	if err := e.handoff.RaiseMood(ctx, conversationID, mood); err != nil {
		e.log.Warn("raise a waiting visitor's priority", "conversation", conversationID, "error", err)
	}
}

// owner is who looks after the conversation: bot, queued, agent or closed.
func (e *Engine) owner(c *conversation) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return c.owner
}

// SetOwner records who looks after a conversation now; the hand-off queue's notifier calls it
// when an agent takes over, gives the conversation back or closes it. The bot answers only the
// conversations it owns.
func (e *Engine) SetOwner(conversationID, state string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.convs[conversationID]; ok {
		if state == store.StateBot && c.owner != "" && c.owner != store.StateBot {
			c.stale = true // the bot did not see what was said while it was away
		}
		c.owner = state
	} // not in memory: the store's state is read when the conversation next speaks
}

// Offers of a person, as far as the business can honestly make one. Worded unlike the default
// greeting and fallback ("if you'd rather talk to a person, just say so"), which the visitor may
// have read already.
const (
	personOfferContact = "A person from the team can help with this too: say so and I'll give you their direct contact details."
	personOfferHandoff = "A person from the team can help with this too: say so and I'll bring someone in."
)

// outcome is what the policy chose, before the reply is composed.
type outcome struct {
	text, source, rule, label string
	confidence                float64
	// keep is the part of text still worth saying when the turn ends in a hand-off: a real
	// answer (the person comes in addition to it), or the answer of an intent marked handoff.
	keep string
}

// kept is what of the outcome's reply stays when the conversation is handed to a person: a
// configured or grounded answer does, fallbacks, guesses and pointers to a person do not.
func (o outcome) kept() string {
	switch {
	case o.rule == RuleIntentNeedsPerson:
		return o.keep
	case o.rule == RuleLLMUnavailable:
		return "" // a guess from the FAQ while the assistant is down
	case o.source == SourceIntent || o.source == SourceFAQ || o.source == SourceLLM:
		return o.text
	}
	return ""
}

// decide runs the whole turn: understand, choose (asking the LLM what the configuration does not
// cover), acknowledge the feeling, bring in a person when the hand-off policy says so, and record
// why. It returns the reply, its decision record, the stream's id when the reply was streamed, and
// the conversation's new state when it changed hands.
func (e *Engine) decide(ctx context.Context, k *knowledge, c *conversation, m store.Message) (string, store.Decision, string, *StateChange) {
	u, cfg, st := k.und, k.und.Config, c.state
	match := u.Understand(m.Text)
	var result tone.Result
	if cfg.ToneEnabled() {
		result = e.tone.Analyze(m.Text)
	}
	var tie *tieBreak
	if k.llm != nil && match.Ambiguous && cfg.LLM.TieBreakerEnabled() {
		match, tie = e.breakTie(ctx, k, c.id, m.Text, match)
	}
	out := choose(u, st, m, match)
	if tie != nil && tie.Chosen != "" && (out.rule == RuleMatchedIntent || out.rule == RuleMatchedFAQ) {
		out.rule = RuleLLMTieBreak
	}
	var llmDet *llmDetails
	var streamID string
	if k.llm != nil && (out.source == SourceFallback || out.rule == RuleUnresolvedLimit) {
		out, llmDet, streamID = e.askLLM(ctx, k, c, m, result, out)
	}
	text := cfg.Expand(out.text, e.now())
	det := details{Match: &match, Threshold: u.Threshold, Clarifying: st.clarifying, Unresolved: st.unresolved, LLM: llmDet, TieBreak: tie}
	handoffOn := e.handoff != nil && cfg.HandoffEnabled()

	intent := ""
	if match.InScope {
		intent = match.Prediction.Label
	}
	// Pointing to a person is the right answer to "I want a human" or to a topic that needs one:
	// it must not count as the bot failing.
	resolved := out.source == SourceIntent || out.source == SourceFAQ || out.source == SourceBuiltin || out.source == SourceLLM ||
		out.rule == RuleAskedForPerson || out.rule == RuleIntentNeedsPerson
	signals := st.trajectory.Observe(tone.Turn{Text: m.Text, Result: result, Intent: intent, Resolved: resolved})
	traj := st.trajectory

	var change *StateChange
	if handoffOn {
		in := handoff.TurnInput{Text: m.Text, Tone: result, Signals: signals, Trajectory: &traj, Intent: intent,
			Confidence: match.Prediction.Confidence, NeedsPerson: match.Intent != nil && match.Intent.Handoff, Unresolved: st.unresolved}
		if llmDet != nil {
			in.AssistantFailure, in.AssistantDeclined = llmDet.Failure, llmDet.Failure == "" && !llmDet.Covered
		}
		hd := handoff.Decide(in, cfg.Handoff)
		det.Handoff = &hd
		if hd.Handoff {
			var tags []string
			if match.Intent != nil {
				tags = match.Intent.Tags
			} else if match.FAQ != nil {
				tags = match.FAQ.Tags
			}
			o, err := e.handoff.Enqueue(ctx, handoff.Request{ConversationID: c.id, Decision: hd, Intent: intent, Tags: tags})
			if err != nil {
				e.log.Error("hand-off failed; pointing to the team's contact details", "conversation", c.id, "error", err)
			} else {
				text = explainOnce(st, cfg.Expand(hd.Explanation, e.now()))
				// The answer stays (an LLM's was already streamed): the person comes in addition.
				// Not when the visitor asked for a person: they asked for that, not for the bot.
				if keep := out.kept(); keep != "" && hd.Reason != handoff.ReasonAskedForPerson {
					text = cfg.Expand(keep, e.now()) + "\n\n" + text
				}
				if o.Offline && o.Message != "" {
					text += "\n\n" + cfg.Expand(o.Message, e.now())
				}
				out.source, out.rule = SourceHandoff, RuleHandoffPrefix+hd.Reason
				// A person takes over: the bot's streak of unanswered turns ends here, or the first
				// unanswered question after the person hands back would count the old ones and
				// send the visitor straight back to the queue.
				st.unresolved = 0
				st.trajectory.UnresolvedStreak, st.trajectory.Asks = 0, 0
				det.Unresolved = 0
				change = &StateChange{State: store.StateQueued, Position: o.Position, ETA: o.ETA, AgentsOnline: o.AgentsOnline,
					Reason: hd.Reason, Offline: o.Offline}
				e.SetOwner(c.id, store.StateQueued)
			}
		}
	}

	if n := llm.IntroducedName(m.Text); n != "" {
		st.name = n
	}
	det.VisitorName = st.name
	if cfg.ToneEnabled() {
		offer := personOfferContact
		if handoffOn {
			offer = personOfferHandoff
		}
		if out.source == SourceFallback || out.source == SourceContact || out.source == SourceHandoff {
			offer = "" // the reply already says how a person comes in
		}
		if offer == "" {
			// The visitor has been told how a person comes in: offering one again later in the
			// conversation would repeat it.
			st.acks = appendNew(st.acks, empathy.OfferKey)
		}
		reply := k.composer.Compose(empathy.Input{Tone: result, Trajectory: traj, Signals: signals,
			Used: st.acks, Business: cfg.Business.Name, Bot: cfg.BotName(), Offer: offer, VisitorName: st.name,
			Expand: func(s string) string { return cfg.Expand(s, e.now()) }}, text)
		if reply.AckKey != "" {
			st.acks = appendNew(st.acks, reply.AckKey)
		}
		st.acks = appendNew(st.acks, reply.Said...)
		text = reply.Text
		det.Tone, det.Signals, det.Reply = &result, &signals, &reply
	}
	if out.source == SourceFallback {
		st.acks = appendNew(st.acks, empathy.Key(out.text)) // said: the next fallback varies
	}
	kept := st.trajectory // what the next turn starts from, for restore
	det.Trajectory, det.Acks = &kept, st.acks
	st.remember(FromVisitor, m.Text)
	st.remember(FromBot, text)
	raw, _ := json.Marshal(det)
	return text, store.Decision{ConversationID: m.ConversationID, Intent: out.label, Confidence: out.confidence,
		Source: out.source, Rule: out.rule, Details: raw}, streamID, change
}

// personBackIn says that a person is coming when the explanation's own words were said at an
// earlier hand-off of the conversation; each is said once too.
var personBackIn = []string{
	"I'm bringing a person from the team back in to sort this out with you.",
	"I'm asking a person from the team to join again.",
}

var sentenceEnd = regexp.MustCompile(`([.!?])\s+`)

// explainOnce returns a hand-off explanation without the sentences an earlier hand-off of the
// conversation already said (a visitor handed back and handed over again for the same reason
// would otherwise read the same words twice), and remembers what it says.
func explainOnce(st *dialogue, explanation string) string {
	var out []string
	firstSaid := false
	for i, s := range strings.Split(sentenceEnd.ReplaceAllString(explanation, "$1\x00"), "\x00") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k := empathy.Key(s)
		if slices.Contains(st.acks, k) {
			firstSaid = firstSaid || i == 0
			continue
		}
		st.acks = append(st.acks, k)
		out = append(out, s)
	}
	if firstSaid {
		// The reason was given before; what happens now still needs saying.
		for _, s := range personBackIn {
			if k := empathy.Key(s); !slices.Contains(st.acks, k) {
				st.acks = append(st.acks, k)
				out = append([]string{s}, out...)
				break
			}
		}
	}
	if len(out) == 0 {
		return explanation // every way of saying it was used: say it again rather than nothing
	}
	return strings.Join(out, " ")
}

// appendNew appends the keys not in list yet.
func appendNew(list []string, keys ...string) []string {
	for _, k := range keys {
		if !slices.Contains(list, k) {
			list = append(list, k)
		}
	}
	return list
}

// breakTie asks the LLM which of two close topics the visitor means. A failed or invalid answer
// leaves the match ambiguous, so the visitor gets the clarifying question they would have had
// without an LLM; the visitor never waits longer than the endpoint's timeout.
func (e *Engine) breakTie(ctx context.Context, k *knowledge, conversationID, text string, match intents.Match) (intents.Match, *tieBreak) {
	u := k.und
	labels := []string{match.Prediction.Top[0].Label, match.Runner.Label}
	choices := make([]llm.Choice, len(labels))
	for i, l := range labels {
		choices[i] = llm.Choice{Label: l, Description: u.Describe(l)}
	}
	start := time.Now()
	chosen, err := k.llm.ClassifyIntent(ctx, text, choices)
	tie := &tieBreak{Candidates: labels, ElapsedMS: time.Since(start).Milliseconds()}
	if err != nil {
		tie.Failure = llm.Reason(err)
		if errors.Is(err, llm.ErrInvalidLabel) {
			tie.Failure = "invalid_label"
		}
		e.log.Warn("llm tie-break failed; asking the visitor instead", "conversation", conversationID, "reason", tie.Failure)
		return match, tie
	}
	tie.Chosen = chosen
	return u.Settle(match, chosen), tie
}

// askLLM answers, from the business's own knowledge, a message the classifier could not place.
// The reply streams to the visitor as it is written. When the endpoint fails, the visitor still
// gets a useful reply at once: the best-matching FAQ answer, or the fallback it would have had.
func (e *Engine) askLLM(ctx context.Context, k *knowledge, c *conversation, m store.Message, result tone.Result, fallback outcome) (outcome, *llmDetails, string) {
	st, cfg := c.state, k.und.Config
	if st.restorer == nil {
		st.restorer = llm.NewRestorer()
	}
	streamID := store.NewID()
	streamed := false
	req := llm.Request{Message: m.Text, History: st.history, Restorer: st.restorer,
		Tone: llm.Tone{Dominant: result.Dominant, Intensity: result.Intensity, Guidance: toneGuidance(result.Dominant)}}
	ans, err := k.llm.Answer(ctx, req, func(delta string) {
		streamed = true
		e.pub.Publish(c.id, Event{Stream: &Stream{ID: streamID, From: FromBot, Delta: delta}})
	})
	det := &llmDetails{Sources: ans.Sources, Covered: ans.Covered, Blocked: ans.Blocked, Injection: ans.Injection,
		Redacted: ans.Redacted, ElapsedMS: ans.Elapsed.Milliseconds()}
	if !streamed {
		streamID = ""
	}
	o := func(text, source, rule string) outcome {
		return outcome{text: text, source: source, rule: rule, label: fallback.label, confidence: fallback.confidence}
	}
	if err != nil {
		det.Failure = llm.Reason(err)
		e.log.Warn("llm unavailable; answering without it", "conversation", c.id, "reason", det.Failure)
		// Only the best match is worth offering, and only when it is an FAQ entry.
		if len(ans.Retrieved) > 0 {
			if id, ok := strings.CutPrefix(ans.Retrieved[0].Chunk.Source, "faq/"); ok {
				if f, ok := cfg.FAQByID(id); ok {
					return o("This may help: "+pick(f.Answer, m.ConversationID, st.turns), SourceFAQ, RuleLLMUnavailable), det, streamID
				}
			}
		}
		fallback.rule = RuleLLMUnavailable
		return fallback, det, streamID
	}
	if !ans.Covered {
		return o("I don't have that information, and I'd rather not guess. "+contactText(cfg), SourceContact, RuleLLMNotCovered), det, streamID
	}
	st.unresolved = 0
	return o(ans.Text, SourceLLM, RuleLLMGrounded), det, streamID
}

// toneGuidance tells the model how to treat the visitor's feeling. The acknowledgement itself is
// added by the composer, so the model must not apologise as well.
func toneGuidance(dominant string) string {
	switch dominant {
	case "confusion":
		return "The visitor seems confused: explain step by step in plain words. Do not apologise; an acknowledgement is added separately."
	case "anxiety":
		return "The visitor seems worried: be calm and concrete about what happens next. Do not apologise; an acknowledgement is added separately."
	case "urgency":
		return "The visitor is in a hurry: give the fastest path first, in as few words as possible."
	case "frustration":
		return "The visitor is frustrated: be direct and helpful, no filler. Do not apologise; an acknowledgement is added separately."
	}
	return ""
}

// choose is the policy: given what was understood, answer, clarify, fall back or point to a person.
func choose(u *intents.Understanding, st *dialogue, m store.Message, match intents.Match) outcome {
	cfg := u.Config
	st.turns++
	offered := st.clarifying
	st.clarifying = nil
	seed := m.ConversationID
	label, conf := match.Prediction.Label, match.Prediction.Confidence
	o := func(text, source, rule string) outcome {
		return outcome{text: text, source: source, rule: rule, label: label, confidence: conf}
	}

	// An answer to our own clarifying question.
	if len(offered) > 0 && match.InScope && match.Intent != nil {
		switch match.Intent.Name {
		case intents.IntentAffirm:
			if text, src, ok := answerFor(u, offered[0], seed, st.turns); ok {
				st.unresolved = 0
				label = offered[0]
				return o(text, src, RuleClarifyConfirmed)
			}
		case intents.IntentDeny:
			return o("No problem — could you tell me a little more about what you need?", SourceClarify, RuleClarifyDeclined)
		}
	}

	if !match.InScope {
		st.unresolved++
		if st.unresolved >= cfg.Handoff.MaxUnresolvedTurns {
			st.unresolved = 0
			return o("I'm sorry — I haven't been able to help with this. "+contactText(cfg), SourceContact, RuleUnresolvedLimit)
		}
		return o(pickUnsaid(cfg.Persona.Fallback, seed, st.turns, st.acks), SourceFallback, RuleBelowThreshold)
	}

	if match.Ambiguous {
		st.clarifying = []string{match.Prediction.Top[0].Label, match.Runner.Label}
		options := fmt.Sprintf("%q or %q", u.Describe(st.clarifying[0]), u.Describe(st.clarifying[1]))
		return o(strings.ReplaceAll(pick(cfg.Persona.Clarify, seed, st.turns), "{options}", options), SourceClarify, RuleAmbiguous)
	}

	if match.Intent != nil && match.Intent.Name == intents.IntentHuman {
		st.unresolved = 0
		return o(contactText(cfg), SourceContact, RuleAskedForPerson)
	}
	if match.Intent != nil && match.Intent.Handoff {
		st.unresolved = 0
		text := "This is something a person from the team needs to handle. " + contactText(cfg)
		a := pick(match.Intent.Answer, seed, st.turns)
		if a != "" {
			text = a + "\n\n" + contactText(cfg)
		}
		res := o(text, SourceContact, RuleIntentNeedsPerson)
		res.keep = a
		return res
	}
	text, src, _ := answerFor(u, label, seed, st.turns)
	st.unresolved = 0
	rule := RuleMatchedIntent
	if src == SourceFAQ {
		rule = RuleMatchedFAQ
	}
	return o(text, src, rule)
}

// answerFor returns the configured answer of a label (intent or FAQ entry).
func answerFor(u *intents.Understanding, label, seed string, turn int) (string, string, bool) {
	if id, ok := strings.CutPrefix(label, "faq/"); ok {
		if f, ok := u.Config.FAQByID(id); ok {
			return pick(f.Answer, seed, turn), SourceFAQ, true
		}
		return "", "", false
	}
	in, ok := u.Config.Intent(label)
	if !ok || len(in.Answer) == 0 {
		return "", "", false
	}
	src := SourceIntent
	if in.Builtin {
		src = SourceBuiltin
	}
	return pick(in.Answer, seed, turn), src, true
}

// contactText tells the visitor honestly how to reach a person while the chat cannot bring one in.
func contactText(cfg *intents.Config) string {
	c := cfg.Business.Contact
	var ways []string
	if c.Email != "" {
		ways = append(ways, "email {email}")
	}
	if c.Phone != "" {
		ways = append(ways, "call {phone}")
	}
	if len(ways) == 0 {
		return "I can't bring a person into this chat right now, and I'm sorry about that. Please try again later."
	}
	text := "I can't bring a person into this chat right now, but the team can help you directly: " + strings.Join(ways, " or ") + "."
	if len(cfg.Business.Hours) > 0 {
		text += " Today's opening hours: {today_hours}."
	}
	return text
}

// pick chooses one variant, varying by conversation and turn but reproducible for tests and
// explanations (no hidden randomness).
func pick(vs intents.Variants, seed string, turn int) string {
	if len(vs) == 0 {
		return ""
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", seed, turn)
	return vs[int(h.Sum32()%uint32(len(vs)))].Text
}

// pickUnsaid is pick for stock sentences: it passes over the variants whose key is in said, so a
// business's several fallbacks vary within a conversation; once all were said, any will do.
func pickUnsaid(vs intents.Variants, seed string, turn int, said []string) string {
	first := pick(vs, seed, turn)
	for i, v := range vs {
		if v.Text == first {
			for j := range vs {
				if w := vs[(i+j)%len(vs)].Text; !slices.Contains(said, empathy.Key(w)) {
					return w
				}
			}
			break
		}
	}
	return first
}

// restore rebuilds what the bot remembers of a conversation from its decision records, after a
// restart or after its in-memory state was evicted. The history ends before the message about
// to be answered (seq before): that message, and any stored after it, are remembered when their
// turn comes, so the model never sees a question twice.
func (e *Engine) restore(ctx context.Context, conv store.Conversation, before int64) *dialogue {
	conversationID := conv.ID
	st := &dialogue{}
	ds, err := e.store.Decisions(ctx, conversationID)
	if err != nil {
		e.log.Warn("restore dialogue state", "conversation", conversationID, "error", err)
		return st
	}
	for _, d := range ds {
		if d.Rule == RuleGreeting {
			continue
		}
		st.turns++
		var det details
		if len(d.Details) > 0 {
			_ = json.Unmarshal(d.Details, &det) // older or foreign records simply restore less
		}
		st.unresolved = det.Unresolved
		st.clarifying = det.Clarifying
		if det.Trajectory != nil {
			st.trajectory = *det.Trajectory
		}
		if det.Acks != nil {
			st.acks = det.Acks
		}
		if det.VisitorName != "" {
			st.name = det.VisitorName
		}
	}
	e.reloadHistory(ctx, st, conversationID, before)
	return st
}

// reloadHistory replaces the remembered history with the stored messages before seq before:
// after a restart, and when a person hands the conversation back (what the visitor and the agent
// said meanwhile is part of it; the bot did not see it go by).
func (e *Engine) reloadHistory(ctx context.Context, st *dialogue, conversationID string, before int64) {
	msgs, err := e.store.MessagesAfter(ctx, conversationID, max(0, before-1-historyTurns), 0)
	if err != nil {
		e.log.Warn("reload conversation history", "conversation", conversationID, "error", err)
		return
	}
	st.history = nil
	for _, m := range msgs {
		if m.Seq < before {
			st.remember(m.From, m.Text)
		}
	}
}
