// Package handoff decides when a conversation goes from the bot to a person, and runs the queue
// that brings the person in. It is pure domain logic: no SQL, no HTTP, no websockets. It declares
// the two narrow ports it needs — Store (persistence, implemented by the store package) and
// Notifier (pushing events, implemented by web) — and takes its clock through Options.Now, so
// every rule is deterministic under test.
//
// # Policy
//
// Decide looks at one bot turn (TurnInput: tone result, conversation signals, intent, unanswered
// streak, what the LLM layer did) and returns a Decision: whether to hand over, the reason code
// of the strongest trigger, human-readable evidence for the agent ("frustration 0.82 ≥ 0.70:
// 'third time', 'still not arrived'"), the tone inputs of the queue priority (Mood) and the
// honest explanation the visitor reads. The triggers, strongest first: the visitor asked for a
// person; the intent is marked handoff: true; frustration at or above the threshold (or rising
// across turns while the conversation escalates); the LLM layer failed or declined; too many
// unanswered turns in a row. Decide costs a few microseconds and allocates only when a trigger
// fires.
//
// # Queue and routing
//
// A Queue holds Tickets (open hand-offs) and agents. A waiting ticket's priority is
// base + aging × minutes waited, where base comes from the tone (frustration, anxiety, urgency),
// the reason, and whether a person already had the conversation. The tone keeps counting while
// the visitor waits: RaiseMood folds each later message's scores in (they only rise), so a
// visitor who grows upset or urgent in the queue moves up. Because aging is linear and the
// same for everyone, the order never changes by itself over time, so the queue is a sorted slice
// kept in order on insert; and since waiting raises priority without bound, nobody starves.
//
// Agents connect with a capacity and skills. Waiting tickets are offered, best first, one offer
// per agent at a time, to the best available online agent: one with a skill among the ticket's
// intent tags (or a generalist without skills), then the least busy, then the one idle the
// longest. An agent whose skills do not fit is offered the ticket only when no fitting agent is
// online at all, so a ticket is never stranded by its tags. An offer not answered within
// OfferTimeout moves on to the next agent; when everyone online has let it pass, the round starts
// again. Agents may also pick any waiting ticket; Accept is decided under the queue's lock, so of
// many agents accepting at once exactly one wins and the others get ErrTaken. Acting on a
// conversation another agent owns gives ErrNotYours.
//
// Time-driven rules run in Tick (Run calls it every second): expired offers move on; a ticket
// waiting past wait_alert_seconds alerts every online agent, again every wait_alert_seconds; an
// agent disconnected for longer than grace_seconds loses their conversations back to the queue,
// ahead of newcomers, and the visitor is told through Notifier.Returned. Outside business hours
// or with no agent online a hand-off still creates a ticket, but the outcome is "offline": the
// visitor reads the configured offline message, may leave an email, and the ticket waits for the
// next agent. Position and ETA are given per waiting conversation; the ETA is the median of the
// latest real waits scaled by position / online agents, and nil when there is no history.
//
// Every change of a hand-off is saved as a whole Record with a growing Version, after the lock
// is released; the store keeps the highest version and sets the conversation's state in the same
// transaction. A failed save is retried on the next Tick (Enqueue alone is undone instead, so
// the visitor is never promised a person the server could not record). Restore rebuilds the
// queue after a restart: waiting tickets wait again, and conversations that had an agent stay
// theirs for the grace period.
//
// # Agent assist
//
// Suggest proposes template replies for the agent: an introduction fitting the hand-off reason,
// an acknowledgement in proportion to the visitor's current tone, and the configured canned
// replies that match the visitor's last message. The LLM layer may improve on them later.
package handoff
