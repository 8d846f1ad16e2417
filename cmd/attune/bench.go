package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
	"github.com/gorilla/websocket"
)

// benchReport is what `attune bench` measures.
type benchReport struct {
	Visitors          int     `json:"visitors"`
	MessagesEach      int     `json:"messages_each"`
	ThinkMillis       int     `json:"think_ms"`
	Messages          int64   `json:"messages"`
	Errors            int64   `json:"errors"`
	Seconds           float64 `json:"seconds"`
	MessagesPerSec    float64 `json:"messages_per_second"`
	AckP50Millis      float64 `json:"ack_p50_ms"`
	AckP99Millis      float64 `json:"ack_p99_ms"`
	ReplyP50Millis    float64 `json:"reply_p50_ms"`
	ReplyP90Millis    float64 `json:"reply_p90_ms"`
	ReplyP99Millis    float64 `json:"reply_p99_ms"`
	ReplyMaxMillis    float64 `json:"reply_max_ms"`
	ChatPeakRSSMB     float64 `json:"chat_peak_rss_mb"`
	FirstError        string  `json:"first_error,omitempty"`
	IdleSockets       int     `json:"idle_sockets"`
	IdleConnected     int     `json:"idle_connected"`
	IdleRSSMB         float64 `json:"idle_rss_mb"`
	IdleKBPerSocket   float64 `json:"idle_kb_per_socket"`
	Agents            int     `json:"agents,omitempty"`
	AgentMessages     int64   `json:"agent_messages,omitempty"`
	AgentP50Millis    float64 `json:"agent_p50_ms,omitempty"`
	AgentP99Millis    float64 `json:"agent_p99_ms,omitempty"`
	ServerStartedHere bool    `json:"server_started_here"`
}

const benchUsage = `Usage: attune bench [flags]

Starts an Attune server in a child process on loopback (or uses --url), then:
  1. opens --visitors sockets that each send --messages questions, waiting for the bot's reply and
     --think on average between questions; reports messages/s, ack and reply latency percentiles;
  2. opens --idle more sockets that only stay connected; reports the server's resident memory.

Flags:
`

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	visitors := fs.Int("visitors", 1000, "concurrent chatting visitors")
	messages := fs.Int("messages", 10, "messages each visitor sends")
	think := fs.Duration("think", time.Second, "average pause between a reply and the visitor's next message")
	idle := fs.Int("idle", 10000, "idle sockets to open after the chat phase (0 skips the memory phase)")
	target := fs.String("url", "", "benchmark a running server at this base URL instead of starting one (memory is then not measured)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	serverPID := fs.Int("pid", 0, "with --url: the server's process id, to measure its memory")
	hold := fs.Duration("hold", 0, "keep the idle sockets open this long after measuring (to inspect the server)")
	agents := fs.Int("agents", 0, "agent consoles connected during the chat phase, each chatting with one handed-off visitor (server started here only)")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rep := benchReport{Visitors: *visitors, MessagesEach: *messages, ThinkMillis: int(think.Milliseconds()), IdleSockets: *idle}

	base, pid := *target, *serverPID
	if base == "" {
		if *agents > 0 {
			rep.Agents = *agents
		}
		srv, err := startBenchServer(ctx, stderr, *agents)
		if err != nil {
			return err
		}
		defer srv.stop()
		base, pid = srv.url, srv.pid
		rep.ServerStartedHere = true
	}
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws/visitor"

	questions, err := benchQuestions()
	if err != nil {
		return err
	}
	var peak atomic.Int64
	stopSampling := sampleRSS(pid, &peak)
	agentDone := make(chan error, 1)
	if rep.Agents > 0 && rep.ServerStartedHere {
		go func() { agentDone <- agentPhase(ctx, base, wsURL, rep.Agents, rep.MessagesEach, *think, &rep) }()
	} else {
		agentDone <- nil
	}
	if err := chatPhase(ctx, wsURL, questions, *think, &rep); err != nil {
		stopSampling()
		return err
	}
	if err := <-agentDone; err != nil {
		stopSampling()
		return fmt.Errorf("agent phase: %w", err)
	}
	stopSampling()
	rep.ChatPeakRSSMB = float64(peak.Load()) / 1024

	if *idle > 0 {
		conns, err := idlePhase(ctx, wsURL, *idle)
		rep.IdleConnected = len(conns)
		if pid != 0 {
			time.Sleep(2 * time.Second) // let the server settle after the connection burst
			if kb, err := rssKB(pid); err == nil {
				rep.IdleRSSMB = float64(kb) / 1024
				if len(conns) > 0 {
					rep.IdleKBPerSocket = float64(kb) / float64(len(conns))
				}
			}
		}
		time.Sleep(*hold)
		for _, c := range conns {
			_ = c.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "attune bench: idle phase stopped early: %v\n", err)
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "chat:  %d visitors x %d messages, think %v: %d messages in %.1f s = %.0f msg/s, %d errors\n",
		rep.Visitors, rep.MessagesEach, *think, rep.Messages, rep.Seconds, rep.MessagesPerSec, rep.Errors)
	if rep.FirstError != "" {
		fmt.Fprintf(stdout, "       first error: %s\n", rep.FirstError)
	}
	fmt.Fprintf(stdout, "       ack p50 %.2f ms, p99 %.2f ms; bot reply p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		rep.AckP50Millis, rep.AckP99Millis, rep.ReplyP50Millis, rep.ReplyP90Millis, rep.ReplyP99Millis, rep.ReplyMaxMillis)
	if pid != 0 {
		fmt.Fprintf(stdout, "       server peak RSS %.1f MB\n", rep.ChatPeakRSSMB)
	}
	if rep.Agents > 0 {
		fmt.Fprintf(stdout, "agents: %d consoles; %d visitor messages reached the assigned agent: p50 %.2f ms, p99 %.2f ms\n",
			rep.Agents, rep.AgentMessages, rep.AgentP50Millis, rep.AgentP99Millis)
	}
	if *idle > 0 {
		fmt.Fprintf(stdout, "idle:  %d of %d idle sockets connected; server RSS %.1f MB with them open (%.1f KB per socket, all included)\n",
			rep.IdleConnected, rep.IdleSockets, rep.IdleRSSMB, rep.IdleKBPerSocket)
	}
	return nil
}

// benchQuestions are the FAQ questions and intent examples of the demo business, so that the load
// exercises the real classifier and answers.
func benchQuestions() ([]string, error) {
	cfg, err := intents.Parse(configs.DemoName, configs.Demo)
	if err != nil {
		return nil, err
	}
	var qs []string
	for _, f := range cfg.FAQ {
		qs = append(qs, f.Question)
	}
	for _, in := range cfg.Intents {
		// Topics that always need a person would hand the visitor over and end the bot's part.
		if !in.Builtin && !in.Handoff && len(in.Examples) > 0 {
			qs = append(qs, in.Examples[0].Text)
		}
	}
	return qs, nil
}

type benchServer struct {
	url  string
	pid  int
	stop func()
}

// startBenchServer runs `attune serve` in a child process, so that its memory is measured alone
// and each side has its own file-descriptor limit.
func startBenchServer(ctx context.Context, stderr io.Writer, agents int) (*benchServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	dir, err := os.MkdirTemp("", "attune-bench-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	db := filepath.Join(dir, "bench.db")
	args := []string{"serve", "--addr", addr, "--db", db, "--log-level", "warn"}
	if agents > 0 {
		cfg, err := benchAgentsSetup(ctx, exe, dir, db, agents)
		if err != nil {
			return nil, err
		}
		args = append(args, "--config", cfg)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), "ATTUNE_ADMIN_PASSWORD="+benchPassword)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &benchServer{url: "http://" + addr, pid: cmd.Process.Pid, stop: func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("the server did not become ready within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// benchVisitor is one simulated visitor's socket.
type benchVisitor struct {
	conn *websocket.Conn
}

type benchFrame struct {
	Type  string `json:"type"`
	State string `json:"state"`
	Seq   int64  `json:"seq"`
	From  string `json:"from"`
	ID    string `json:"id"`
	Code  string `json:"code"`
}

// connect opens a socket, says hello and waits for the greeting.
func connect(ctx context.Context, wsURL string) (*benchVisitor, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, _, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	v := &benchVisitor{conn: conn}
	if err := conn.WriteJSON(map[string]any{"type": "hello", "token": "", "last_seq": 0}); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := v.until(func(f benchFrame) bool { return f.Type == "message" && f.From == "bot" }); err != nil {
		conn.Close()
		return nil, fmt.Errorf("wait for greeting: %w", err)
	}
	return v, nil
}

func (v *benchVisitor) until(match func(benchFrame) bool) (benchFrame, error) {
	_ = v.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var f benchFrame
		if err := v.conn.ReadJSON(&f); err != nil {
			return f, err
		}
		if f.Type == "error" {
			return f, fmt.Errorf("server error frame %q", f.Code)
		}
		if match(f) {
			return f, nil
		}
	}
}

func chatPhase(ctx context.Context, wsURL string, questions []string, think time.Duration, rep *benchReport) error {
	var (
		mu            sync.Mutex
		acks, replies []time.Duration
		wg            sync.WaitGroup
		errs, sent    atomic.Int64
		dialSlots     = make(chan struct{}, 64)
		firstErr      sync.Once
	)
	noteErr := func(err error) {
		errs.Add(1)
		firstErr.Do(func() { rep.FirstError = err.Error() })
	}
	visitors := make([]*benchVisitor, rep.Visitors)
	for i := range visitors {
		dialSlots <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-dialSlots }()
			v, err := connect(ctx, wsURL)
			if err != nil {
				errs.Add(1)
				return
			}
			visitors[i] = v
		}(i)
	}
	wg.Wait()
	if errs.Load() == int64(rep.Visitors) {
		return errors.New("no visitor could connect")
	}

	start := time.Now()
	for i, v := range visitors {
		if v == nil {
			continue
		}
		wg.Add(1)
		go func(i int, v *benchVisitor) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			// Visitors arrive spread over one think time, as real ones do, not in lockstep.
			time.Sleep(time.Duration(rng.Int64N(int64(think) + 1)))
			for m := 0; m < rep.MessagesEach && ctx.Err() == nil; m++ {
				id := fmt.Sprintf("b%d-%d", i, m)
				t0 := time.Now()
				if err := v.conn.WriteJSON(map[string]any{"type": "message", "id": id, "text": questions[(i+m)%len(questions)]}); err != nil {
					noteErr(err)
					return
				}
				ack, err := v.until(func(f benchFrame) bool { return f.Type == "ack" && f.ID == id })
				if err != nil {
					noteErr(err)
					return
				}
				tAck := time.Since(t0)
				if _, err := v.until(func(f benchFrame) bool { return f.Type == "message" && f.From == "bot" && f.Seq > ack.Seq }); err != nil {
					noteErr(fmt.Errorf("wait for the bot's reply to %q: %w", questions[(i+m)%len(questions)], err))
					return
				}
				tReply := time.Since(t0)
				sent.Add(1)
				mu.Lock()
				acks, replies = append(acks, tAck), append(replies, tReply)
				mu.Unlock()
				if think > 0 {
					time.Sleep(time.Duration(rng.Int64N(2*int64(think) + 1)))
				}
			}
		}(i, v)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, v := range visitors {
		if v != nil {
			v.conn.Close()
		}
	}
	rep.Messages, rep.Errors, rep.Seconds = sent.Load(), errs.Load(), elapsed.Seconds()
	rep.MessagesPerSec = float64(rep.Messages) / elapsed.Seconds()
	rep.AckP50Millis, rep.AckP99Millis = pct(acks, 0.50), pct(acks, 0.99)
	rep.ReplyP50Millis, rep.ReplyP90Millis, rep.ReplyP99Millis, rep.ReplyMaxMillis = pct(replies, 0.50), pct(replies, 0.90), pct(replies, 0.99), pct(replies, 1)
	return nil
}

func pct(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}

// idlePhase opens n sockets that say hello and then only answer pings.
func idlePhase(ctx context.Context, wsURL string, n int) ([]*websocket.Conn, error) {
	var (
		mu    sync.Mutex
		conns []*websocket.Conn
		wg    sync.WaitGroup
		first error
		slots = make(chan struct{}, 64)
	)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			v, err := connect(ctx, wsURL)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			conns = append(conns, v.conn)
			// Keep reading so that pings are answered; the socket otherwise stays silent.
			go func() {
				_ = v.conn.SetReadDeadline(time.Time{})
				for {
					if _, _, err := v.conn.NextReader(); err != nil {
						return
					}
				}
			}()
		}()
	}
	wg.Wait()
	return conns, first
}

// sampleRSS records the peak resident memory of pid until the returned function is called.
func sampleRSS(pid int, peak *atomic.Int64) func() {
	if pid == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, err := rssKB(pid); err == nil && kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// rssKB reads a process's resident set size from /proc (Linux).
func rssKB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// benchPassword is the password of the benchmark's throw-away agents.
const benchPassword = "bench-password-1234"

// benchAgentsSetup creates the agents in the benchmark's database and a copy of the demo
// configuration that is open around the clock (offers are only made during opening hours).
func benchAgentsSetup(ctx context.Context, exe, dir, db string, n int) (string, error) {
	for i := 0; i < n; i++ {
		cmd := exec.CommandContext(ctx, exe, "agent", "add", fmt.Sprintf("agent%d", i), "--db", db,
			"--name", fmt.Sprintf("Agent %d", i), "--capacity", "5")
		cmd.Stdin = strings.NewReader(benchPassword + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("create agent %d: %v: %s", i, err, out)
		}
	}
	hours := regexp.MustCompile(`(?m)^  hours:\n(?:    .*\n)+`)
	cfg := hours.ReplaceAll(configs.Demo, []byte("  hours:\n    mon-sun: \"00:00-24:00\"\n"))
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		return "", fmt.Errorf("write benchmark configuration: %w", err)
	}
	return path, nil
}

// agentPhase connects n agent consoles, hands one visitor to each, and measures how long the
// visitor's messages take to reach the assigned agent's console while the chat phase runs.
func agentPhase(ctx context.Context, base, wsURL string, n, messages int, think time.Duration, rep *benchReport) error {
	var (
		mu    sync.Mutex
		sent  = map[string]time.Time{} // message text -> when the visitor sent it
		lat   []time.Duration
		wg    sync.WaitGroup
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	agentsReady := make(chan struct{}, n)
	stop := make(chan struct{})
	for i := 0; i < n; i++ {
		conn, err := agentConnect(ctx, base, fmt.Sprintf("agent%d", i))
		if err != nil {
			return err
		}
		defer conn.Close()
		agentsReady <- struct{}{}
		go func() {
			for {
				var f struct {
					Type           string `json:"type"`
					ConversationID string `json:"conversation_id"`
					From           string `json:"from"`
					Text           string `json:"text"`
				}
				if err := conn.ReadJSON(&f); err != nil {
					return
				}
				switch {
				case f.Type == "offer":
					_ = conn.WriteJSON(map[string]any{"type": "accept", "id": "a-" + f.ConversationID, "conversation_id": f.ConversationID})
				case f.Type == "message" && f.From == "visitor":
					now := time.Now()
					mu.Lock()
					if t0, ok := sent[f.Text]; ok {
						lat = append(lat, now.Sub(t0))
						delete(sent, f.Text)
					}
					mu.Unlock()
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := connect(ctx, wsURL)
			if err != nil {
				fail(err)
				return
			}
			defer v.conn.Close()
			if err := v.conn.WriteJSON(map[string]any{"type": "message", "id": "h", "text": "I want to talk to a human"}); err != nil {
				fail(err)
				return
			}
			if _, err := v.until(func(f benchFrame) bool { return f.Type == "state" && f.State == "agent" }); err != nil {
				fail(fmt.Errorf("visitor %d was not taken by an agent: %w", i, err))
				return
			}
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			for m := 0; m < messages; m++ {
				time.Sleep(time.Duration(rng.Int64N(2*int64(think) + 1)))
				text := fmt.Sprintf("bench %d/%d: is my order on its way?", i, m)
				mu.Lock()
				sent[text] = time.Now()
				mu.Unlock()
				if err := v.conn.WriteJSON(map[string]any{"type": "message", "id": fmt.Sprintf("m%d", m), "text": text}); err != nil {
					fail(err)
					return
				}
				if _, err := v.until(func(f benchFrame) bool { return f.Type == "ack" }); err != nil {
					fail(err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // the last deliveries
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	rep.AgentMessages = int64(len(lat))
	rep.AgentP50Millis, rep.AgentP99Millis = pct(lat, 0.50), pct(lat, 0.99)
	return first
}

// agentConnect logs an agent in and opens its console socket.
func agentConnect(ctx context.Context, base, login string) (*websocket.Conn, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"login": login, "password": benchPassword})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/console/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("log in %s: %w", login, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("log in %s: status %d", login, resp.StatusCode)
	}
	u, _ := url.Parse(base)
	h := http.Header{"Origin": {base}}
	for _, c := range jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws/agent", h)
	if err != nil {
		return nil, fmt.Errorf("agent socket for %s: %w", login, err)
	}
	return conn, nil
}
