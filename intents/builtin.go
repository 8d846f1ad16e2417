package intents

// Names of the built-in intents every business gets. A YAML intent with one of these names
// overrides the built-in answer and, if it lists examples, the built-in examples.
const (
	IntentGreeting = "greeting"
	IntentThanks   = "thanks"
	IntentGoodbye  = "goodbye"
	IntentHuman    = "human"
	IntentBotCheck = "bot_check"
	IntentAffirm   = "affirm"
	IntentDeny     = "deny"
)

// builtinIntents are written for support chats: short, informal, often without punctuation.
// Their answers may use the placeholders of Expand.
func builtinIntents() []Intent {
	mk := func(name, answer string, examples ...string) Intent {
		ps := make(Phrases, len(examples))
		for i, e := range examples {
			ps[i] = Phrase{Text: e}
		}
		var ans Variants
		if answer != "" {
			ans = Variants{{Text: answer}}
		}
		return Intent{Name: name, Examples: ps, Answer: ans, Builtin: true}
	}
	return []Intent{
		mk(IntentGreeting, "Hello! How can I help you today?",
			"hi", "hello", "hey", "hey there", "hi there", "good morning", "good afternoon", "good evening",
			"hello is anyone there", "hiya", "howdy", "greetings", "yo", "hi how are you", "morning"),
		mk(IntentThanks, "You're welcome! Is there anything else I can help with?",
			"thanks", "thank you", "thank you so much", "thanks a lot", "cheers", "much appreciated",
			"thanks for your help", "great thanks", "perfect thank you", "ty", "thx", "that helps thanks",
			"brilliant thanks", "awesome thank you"),
		mk(IntentGoodbye, "Goodbye, and thanks for chatting with {business}!",
			"bye", "goodbye", "see you", "see ya", "bye bye", "that's all", "that is all thanks",
			"have a nice day", "talk to you later", "i'm done", "nothing else", "catch you later", "good night"),
		mk(IntentHuman, "",
			"i want to talk to a human", "can i speak to a person", "real person please", "agent",
			"talk to an agent", "human please", "let me speak to someone", "connect me to customer service",
			"i need a real human", "is there a person i can talk to", "speak to a representative",
			"get me a manager", "operator", "i'd like to talk to someone from the team", "transfer me to a human"),
		mk(IntentBotCheck, "Yes — I'm {bot}, an automated assistant (a bot) for {business}. I can answer common questions, and point you to a person from the team whenever you'd rather talk to one.",
			"are you a bot", "are you a robot", "am i talking to a real person", "is this a bot",
			"are you human", "are you a real person", "is this automated", "are you an ai", "who am i talking to",
			"am i chatting with a machine", "is this a chatbot", "are you a computer"),
		mk(IntentAffirm, "Great!",
			"yes", "yeah", "yep", "sure", "correct", "that's right", "exactly", "yes please", "ok", "okay",
			"sounds good", "absolutely", "of course", "right", "yup"),
		mk(IntentDeny, "No problem.",
			"no", "nope", "no thanks", "not really", "nah", "no that's wrong", "that's not it", "not that",
			"no thank you", "wrong", "negative", "never mind", "don't"),
	}
}

// IsBuiltin reports whether name is one of the built-in intents.
func IsBuiltin(name string) bool {
	for _, in := range builtinIntents() {
		if in.Name == name {
			return true
		}
	}
	return false
}

// mergeBuiltins puts the built-in intents first, overridden field by field by YAML intents of the
// same name, followed by the business's own intents.
func mergeBuiltins(own []Intent) []Intent {
	builtins := builtinIntents()
	byName := map[string]int{}
	for i, b := range builtins {
		byName[b.Name] = i
	}
	out := builtins
	for _, in := range own {
		if i, ok := byName[in.Name]; ok {
			b := &out[i]
			if len(in.Examples) > 0 {
				b.Examples = in.Examples
			}
			if len(in.Answer) > 0 {
				b.Answer = in.Answer
			}
			b.Handoff = b.Handoff || in.Handoff
			b.Tags = append(b.Tags, in.Tags...)
			continue
		}
		out = append(out, in)
	}
	return out
}
