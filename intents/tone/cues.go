package tone

import "github.com/attune-chat/attune/intents/tone/internal/cues"

// Tone indexes, in the order of Tones. The support cue phrases themselves live in
// internal/cues, so the training program adds exactly the offsets the analyzer adds.
const (
	tFrus    = cues.Frus
	tConf    = cues.Conf
	tAnx     = cues.Anx
	tUrg     = cues.Urg
	tDel     = cues.Del
	numTones = cues.NumTones
)
