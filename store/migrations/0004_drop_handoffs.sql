-- 0004_drop_handoffs: the handoffs table of 0002 (one row per conversation, no
-- version) was superseded by handoff_records (0003), which the queue has used
-- since it was written; nothing reads or writes handoffs any more. Its indexes
-- go with it.
DROP TABLE IF EXISTS handoffs;
