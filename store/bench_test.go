package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/attune-chat/attune/store"
)

// BenchmarkAppendMessage measures visitor-message throughput with many
// concurrent writers (64 goroutines per CPU), with group commit (BatchMax
// 256) and without (BatchMax 1). Compare the msgs/s of the two sub-benchmarks:
//
//	go test -run '^$' -bench BenchmarkAppendMessage -count=5 ./store/
func BenchmarkAppendMessage(b *testing.B) {
	for _, batchMax := range []int{256, 1} {
		b.Run(fmt.Sprint("BatchMax=", batchMax), func(b *testing.B) {
			ctx := context.Background()
			db := MustOpenDBAt(b, filepath.Join(b.TempDir(), "bench.db"), store.Options{BatchMax: batchMax})
			// One conversation per writer, as with many chatting visitors,
			// plus contention: two writers share each conversation.
			const conversations = 64
			ids := make([]string, conversations)
			for i := range ids {
				c, _ := MustCreateConversation(b, db)
				ids[i] = c.ID
			}
			var next, clientSeq atomic.Int64
			text := "Hello, do you deliver sourdough to the city centre on Saturdays?"
			batches0, writes0 := db.WriteStats()

			b.SetParallelism(64)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				conv := ids[next.Add(1)%conversations]
				for pb.Next() {
					_, _, err := db.AppendMessage(ctx, store.Message{
						ConversationID: conv, From: store.FromVisitor, Text: text,
						ClientID: fmt.Sprint("c", clientSeq.Add(1)),
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			batches, writes := db.WriteStats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if batches > batches0 {
				b.ReportMetric(float64(writes-writes0)/float64(batches-batches0), "msgs/batch")
			}
		})
	}
}
