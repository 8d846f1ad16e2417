// Package cues holds Attune's own support-chat cue phrases and matches them on feat tokens. The
// tone analyzer adds their weights to its learned logits (see Combine), and the training program
// adds them the same way when it tunes the thresholds on dev, so the thresholds account for the
// cues exactly as they fire at inference.
package cues

// Tone indexes, in the order of tone.Tones.
const (
	Frus = iota
	Conf
	Anx
	Urg
	Del
	NumTones
)

// cue is one support phrase and what it says about each tone, in logit units added to the
// learned score (about +2.5 turns a neutral message into a clear signal). The phrases are ours,
// written for customer-support chat, where GoEmotions' Reddit comments say little about
// waiting on hold or losing a booking.
type cue struct {
	phrase string
	// w is indexed like the tone constants: frustration, confusion, anxiety, urgency, delight.
	w [NumTones]float64
	// negatable cues flip to a weaker opposite inside a negation scope: "not worried".
	negatable bool
}

func c(phrase string, negatable bool, weights ...float64) cue {
	var w [NumTones]float64
	copy(w[:], weights)
	return cue{phrase: phrase, w: w, negatable: negatable}
}

// frus, conf, anx, urg and del build single-tone cues; negatable ones end in N.
func frus(p string, w float64) cue  { return c(p, false, w) }
func frusN(p string, w float64) cue { return c(p, true, w) }
func confN(p string, w float64) cue { return c(p, true, 0, w) }
func conf(p string, w float64) cue  { return c(p, false, 0, w) }
func anxN(p string, w float64) cue  { return c(p, true, 0, 0, w) }
func anx(p string, w float64) cue   { return c(p, false, 0, 0, w) }
func urgN(p string, w float64) cue  { return c(p, true, 0, 0, 0, w) }
func urg(p string, w float64) cue   { return c(p, false, 0, 0, 0, w) }
func del(p string, w float64) cue   { return c(p, false, 0, 0, 0, 0, w) }
func delN(p string, w float64) cue  { return c(p, true, 0, 0, 0, 0, w) }

// Waiting written with number words or "a": "for two hours", "it's been three days", "over a
// week". Digits are folded to '#' and covered by the "# hours" cues above.
var (
	durationLeads = []string{"for", "been", "over", "waited", "waiting"}
	durationNums  = []string{"two", "three", "four", "five", "six", "several", "a few", "a couple of", "a couple", "many"}
	durationUnits = []struct {
		plural, single string
		w              float64
	}{{"hours", "an hour", 1.8}, {"days", "a day", 1.6}, {"weeks", "a week", 2.0}, {"months", "a month", 2.2}}
)

// still-not-arrived cues: waiting that is past what was promised.
var (
	stillNot  = []string{"still hasn't", "still haven't", "still has not", "still have not", "still didn't", "still did not", "still not", "still never"}
	stillWhat = []string{"arrived", "heard", "received", "got", "gotten", "come", "been refunded", "been delivered", "shipped"}
)

func init() {
	for _, lead := range durationLeads {
		for _, u := range durationUnits {
			table = append(table, frus(lead+" "+u.single, u.w))
			for _, n := range durationNums {
				table = append(table, frus(lead+" "+n+" "+u.plural, u.w+0.2))
			}
		}
	}
	for _, s := range stillNot {
		for _, w := range stillWhat {
			table = append(table, frus(s+" "+w, 3.0))
		}
	}
}

// supportCues are matched on normalised words: lower case, digit runs written as '#'.
var table = []cue{
	// Repetition and waiting: the strongest sign a support conversation is going badly.
	frus("second time", 2.4), frus("third time", 3.8), frus("fourth time", 4.2), frus("fifth time", 4.4),
	frus("# times", 1.4), frus("three times", 2.2), frus("several times", 1.6), frus("many times", 1.4),
	frus("how many times", 2.6), frus("again and again", 2.0), frus("over and over", 2.0),
	frus("still waiting", 3.8), frus("still not", 1.6), frus("still no", 1.6), frus("still hasn't", 1.8),
	frus("still haven't", 1.8), frus("still doesn't", 1.8), frus("still don't", 1.4), frus("still broken", 2.2),
	frus("still nothing", 2.2), frus("still isn't", 1.8), frus("still can't", 1.8),
	frus("on hold", 2.0), frus("for hours", 1.6), frus("for # hours", 1.8), frus("for # days", 1.6),
	frus("for # weeks", 2.0), frus("for days", 1.6), frus("for weeks", 2.0), frus("for ages", 1.8),
	frus("still has not", 1.8), frus("still have not", 1.8),
	frus("no response", 2.0), frus("no reply", 2.0), frus("no answer", 1.6), frus("never got", 1.4),
	frus("never received", 1.8), frus("never arrived", 1.8), frus("never came", 1.6), frus("hasn't arrived", 1.6),
	frus("already told", 2.0), frus("already asked", 2.0), frus("i already", 1.0), frus("keep asking", 1.8),
	frus("keeps happening", 1.8), frus("every time", 0.8), frus("not again", 1.6),
	// Failed help.
	c("thanks for nothing", false, 4.5, 0, 0, 0, -7), c("thank you for nothing", false, 4.5, 0, 0, 0, -7), c("thanks a lot for nothing", false, 4.5, 0, 0, 0, -7), frus("not what i asked", 3.0),
	frus("that's not what i", 2.4), frus("thats not what i", 2.4), frus("not my question", 2.6),
	frus("doesn't help", 2.0), frus("didn't help", 2.0), frus("not helpful", 2.0), frus("unhelpful", 2.4),
	frus("useless", 2.4), frus("pointless", 2.0), frus("waste of time", 2.6), frus("wasted", 1.2),
	frus("doesn't work", 1.4), frus("does not work", 1.4), frus("not working", 1.4), frus("didn't work", 1.4),
	frus("stopped working", 1.4), frus("broken", 0.8), frus("you people", 1.8), frus("your bot", 0.8),
	// Leaving and complaining.
	frus("cancel my account", 2.4), frus("cancel my subscription", 2.0), frus("close my account", 2.2),
	frus("delete my account", 2.0), frus("i want a refund", 1.6), frus("complaint", 1.8), frus("complain", 1.6),
	frus("unacceptable", 2.8), frus("ridiculous", 2.4), frus("fed up", 2.8), frus("sick of", 2.4),
	frus("tired of", 1.8), frus("had enough", 2.4), frus("terrible service", 2.6), frus("worst", 1.6),
	frus("joke", 1.0), frus("scam", 2.4), frus("rip off", 2.4), frus("ripoff", 2.4), frus("what the hell", 2.4),
	frus("wtf", 2.4), frus("seriously", 1.0), frusN("frustrated", 2.6), frusN("frustrating", 2.6),
	frusN("annoyed", 2.4), frusN("annoying", 2.0), frusN("angry", 2.6), frusN("furious", 3.2),
	frusN("disappointed", 2.2), frusN("upset", 2.0), frus("not happy", 2.0), frus("not good enough", 2.2),

	// Confusion.
	confN("confused", 3.0), confN("confusing", 2.6), conf("don't understand", 2.8), conf("dont understand", 2.8),
	conf("do not understand", 2.8), conf("doesn't make sense", 2.8), conf("makes no sense", 2.8),
	conf("not sure how", 2.0), conf("not sure what", 2.0), conf("not sure where", 2.0), conf("not sure which", 2.0),
	conf("no idea how", 2.4), conf("no idea what", 2.4), conf("can't figure out", 2.6), conf("cant figure out", 2.6),
	conf("can't find", 1.4), conf("cant find", 1.4), conf("what do you mean", 2.4), confN("unclear", 2.2),
	conf("i'm lost", 2.4), conf("im lost", 2.4), conf("lost me", 2.4), conf("which one", 1.0),
	conf("what does that mean", 2.4), conf("huh", 1.6), conf("i don't get", 2.4), conf("i dont get", 2.4),
	conf("so how do i", 1.2), conf("how am i supposed to", 2.2), conf("where do i find", 1.0),

	// Request frames: in support chat a plain question is the normal case, not confusion, even
	// though GoEmotions' Reddit questions taught the model that "?" often means confusion.
	conf("how do i", -2.0), conf("how can i", -2.0), conf("can i", -1.6), conf("can you", -1.4),
	conf("do you", -1.6), conf("what are your", -2.0), conf("what is your", -2.0), conf("what's your", -2.0),
	conf("is there", -1.4), conf("is it possible", -1.4), conf("how much", -1.6), conf("how long", -1.2),
	conf("when do you", -1.6), conf("when will", -1.0), conf("could you", -1.4), conf("i'd like to", -1.2),
	conf("i want to", -1.0), conf("where can i", -1.4), conf("how to", -1.4), conf("what time", -1.6),

	// Anxiety: fear of loss, safety, money.
	anxN("worried", 3.0), anxN("worry", 2.4), anxN("nervous", 3.0), anxN("scared", 3.0), anxN("afraid", 2.6),
	anxN("anxious", 3.0), anxN("panic", 3.0), anxN("panicking", 3.2), anxN("concerned", 2.0), anxN("stressed", 2.4),
	anx("freaking out", 3.2), anx("vanished", 2.8), anx("disappeared", 2.0), anx("gone missing", 2.2),
	anx("is missing", 1.4), anx("lost my", 1.6), anx("charged twice", 2.0), anx("double charged", 2.0),
	anx("hacked", 2.8), anx("fraud", 2.4), anx("stolen", 2.4), anx("unauthorized", 2.4), anx("unauthorised", 2.4),
	anx("locked out", 2.0), anx("is it safe", 2.0), anx("what if", 1.2), anx("did i lose", 2.2),
	anx("will i lose", 2.2), anx("hope i didn't", 1.8), anx("please help", 1.2), anx("help me", 0.6),
	anx("my booking", 1.0), anx("my money", 1.0), anx("my data", 0.6),
	c("just curious", false, 0, 0, -2.4), c("just wondering", false, 0, 0, -2.0), c("no worries", false, -1, 0, -3, 0, 0.5),

	// Urgency: time pressure in the visitor's own terms.
	urgN("urgent", 3.2), urg("urgently", 3.2), urg("asap", 3.2), urg("emergency", 3.2), urg("immediately", 2.6),
	urg("right now", 2.4), urg("right away", 2.4), urg("as soon as possible", 2.8), urg("time sensitive", 2.8),
	urg("hurry", 2.4), urg("quickly", 1.2), urg("deadline", 1.8), urg("today", 1.0), urg("tonight", 1.4),
	urg("this morning", 0.8), urg("tomorrow morning", 1.4), urg("in an hour", 2.4), urg("in # hours", 2.0),
	urg("in # minutes", 2.6), urg("#am", 1.4), urg("#pm", 1.4), urg("flight", 1.4), urg("leaving", 0.8),
	urg("need it now", 2.6), urg("need this now", 2.6), urg("need help now", 2.6), urg("now", 0.6),
	urg("critical", 1.8), urg("before", 0.4),
	c("no rush", false, 0, 0, -1, -4), c("no hurry", false, 0, 0, -1, -4), c("whenever", false, 0, 0, 0, -1.5),
	c("not urgent", false, 0, 0, -0.5, -4),

	// Delight: the problem went away, or thanks.
	del("that fixed it", 3.0), del("fixed it", 2.2), del("works now", 2.6), del("working now", 2.6),
	del("it worked", 2.4), delN("perfect", 1.6), del("you're the best", 3.0), del("youre the best", 3.0),
	del("lifesaver", 3.0), del("life saver", 3.0), delN("appreciate", 1.8), delN("helpful", 1.2),
	del("great help", 2.4), del("so much", 0.4), del("solved", 1.6), del("sorted", 1.2), delN("relieved", 2.4),
	del("thank you", 1.0), del("thanks", 1.0), del("cheers", 0.8), del("brilliant", 1.2),
}
