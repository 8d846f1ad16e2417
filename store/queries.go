package store

// The write statements, prepared once on the writer connection at Open
// (see wtx). Read queries live beside their methods.
const (
	sqlInsertVisitor      = `INSERT INTO visitors (id, created_at) VALUES (?, ?)`
	sqlInsertConversation = `INSERT INTO conversations (id, visitor_id, token_hash, state, last_seq, created_at, updated_at)
		VALUES (?, ?, ?, ?, 0, ?, ?)`
	sqlSetState = `UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?`
	// Ordered by the indexed column alone, so the query walks conversations_updated_at and stops
	// at the limit (a second sort key would sort every expired row for every chunk). Conversations
	// waiting for a person or with one are kept: see DeleteExpired.
	sqlExpiredChunk = `SELECT id, visitor_id FROM conversations WHERE updated_at < ?
		AND state NOT IN ('` + StateQueued + `', '` + StateAgent + `')
		ORDER BY updated_at LIMIT ?`
	sqlDeleteConversation    = `DELETE FROM conversations WHERE id = ?`
	sqlDeleteVisitorIfOrphan = `DELETE FROM visitors WHERE id = ? AND NOT EXISTS
		(SELECT 1 FROM conversations c WHERE c.visitor_id = ?)`
	sqlInsertDecision = `INSERT INTO decisions (conversation_id, seq, in_reply_to, intent, confidence, source, rule, details, decided_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlNextSeq           = `UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? RETURNING last_seq`
	sqlInsertMessage     = `INSERT INTO messages (conversation_id, seq, client_id, sender, body, sent_at) VALUES (?, ?, ?, ?, ?, ?)`
	sqlMessageByClientID = `SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = ? AND client_id = ?`
)

// writeQueries lists the statements prepared at Open.
var writeQueries = []string{
	sqlInsertVisitor,
	sqlInsertConversation,
	sqlSetState,
	sqlExpiredChunk,
	sqlDeleteConversation,
	sqlDeleteVisitorIfOrphan,
	sqlInsertDecision,
	sqlNextSeq,
	sqlInsertMessage,
	sqlMessageByClientID,
	sqlSavepoint, sqlRollbackTo, sqlRelease,
}

const (
	sqlSavepoint  = `SAVEPOINT write_request`
	sqlRollbackTo = `ROLLBACK TO SAVEPOINT write_request`
	sqlRelease    = `RELEASE SAVEPOINT write_request`
)
