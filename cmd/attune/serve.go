package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/attune-chat/attune/bot"
	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/handoff"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/tone"
	"github.com/attune-chat/attune/store"
	"github.com/attune-chat/attune/store/handoffstore"
	"github.com/attune-chat/attune/web"
)

// serveConfig is everything `attune serve` takes from flags and the environment.
type serveConfig struct {
	Addr           string
	DB             string
	Config         string
	LogLevel       string
	LogFormat      string
	ReloadInterval time.Duration
	// Web tunes the transport; tests shorten its timings.
	Web web.Options
	// hooks are for tests only; all nil in production.
	hooks testHooks
}

// testHooks let tests stop the daemon at chosen points to reproduce races deterministically.
type testHooks struct {
	// handoffStore wraps the hand-off queue's store.
	handoffStore func(handoff.Store) handoff.Store
	// sweep runs at the start of each housekeeping sweep, with the housekeeping's context.
	sweep func(ctx context.Context)
	// refreshing runs when the daily refresh has read the understanding in force, before it
	// applies it again.
	refreshing func()
	// now replaces time.Now for the housekeeping.
	now func() time.Time
}

const serveUsage = `Usage: attune serve [flags]

Flags (each has an environment variable; a flag wins over its variable):
  --addr ADDR        ATTUNE_ADDR        listen address (default localhost:8080)
  --db FILE          ATTUNE_DB          SQLite database file, created if missing (default attune.db)
  --config FILE      ATTUNE_CONFIG      business configuration (default: the embedded demo bakery)
  --log-level LEVEL  ATTUNE_LOG_LEVEL   debug, info, warn or error (default info)
  --log-format FMT   ATTUNE_LOG_FORMAT  text or json (default text)
  --trusted-proxies LIST  ATTUNE_TRUSTED_PROXIES
                     reverse proxies in front of Attune (IP addresses or CIDR ranges,
                     comma-separated) whose X-Forwarded-For names the client for the console's
                     login limit and whose X-Forwarded-Host names the public host for the
                     Origin checks (default none: the peer address and the Host count)
`

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	// A change is applied once two checks in a row read it (see intents.Watch): within 2 s.
	sc := serveConfig{ReloadInterval: time.Second}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	fs.StringVar(&sc.Addr, "addr", env("ATTUNE_ADDR", "localhost:8080"), "")
	fs.StringVar(&sc.DB, "db", env("ATTUNE_DB", "attune.db"), "")
	fs.StringVar(&sc.Config, "config", env("ATTUNE_CONFIG", ""), "")
	fs.StringVar(&sc.LogLevel, "log-level", env("ATTUNE_LOG_LEVEL", "info"), "")
	fs.StringVar(&sc.LogFormat, "log-format", env("ATTUNE_LOG_FORMAT", "text"), "")
	proxies := fs.String("trusted-proxies", env("ATTUNE_TRUSTED_PROXIES", ""), "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return sc, err
		}
		return sc, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return sc, fmt.Errorf("%w: unexpected argument %q; see attune serve --help", errUsage, fs.Arg(0))
	}
	trusted, err := parseProxies(*proxies)
	if err != nil {
		return sc, fmt.Errorf("%w: --trusted-proxies: %v", errUsage, err)
	}
	sc.Web.TrustedProxies = trusted
	return sc, nil
}

// parseProxies reads a comma-separated list of IP addresses and CIDR ranges.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range (examples: 10.0.0.1, 10.0.0.0/8, fd00::/8)", item)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log level %q: use debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: log format %q: use text or json", errUsage, format)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	sc, err := parseServe(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := startDaemon(ctx, sc, stderr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	// From now on a signal no longer cancels ctx (it already is): it means "stop waiting".
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	d.log.Info("shutting down; press Ctrl-C again to exit at once")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return awaitShutdown(d.log, func() error { return d.Shutdown(shutdownCtx) }, again)
}

// errInterrupted is the exit error of a shutdown cut short by a second signal.
var errInterrupted = errors.New("interrupted again during the graceful shutdown; exited without waiting for it " +
	"(acknowledged messages are on disk; bot answers in progress were not sent)")

// awaitShutdown runs shutdown and returns its result, unless a signal arrives on again first:
// an operator who presses Ctrl-C a second time wants the process gone now, not in 15 seconds.
func awaitShutdown(log *slog.Logger, shutdown func() error, again <-chan os.Signal) error {
	done := make(chan error, 1)
	go func() { done <- shutdown() }()
	select {
	case err := <-done:
		return err
	case s := <-again:
		log.Warn("second signal: exiting at once without finishing the graceful shutdown", "signal", s.String())
		return errInterrupted
	}
}

// daemon is a running server with everything it owns. End-to-end tests start it exactly as
// `attune serve` does, minus flag parsing and signals.
type daemon struct {
	log      *slog.Logger
	store    *store.DB
	engine   *bot.Engine
	queue    *handoff.Queue
	web      *web.Server
	hub      *web.Hub
	listener net.Listener
	served   chan error
	// stop ends the background jobs (queue ticks, configuration watcher, housekeeping); jobs
	// counts them, so that Shutdown can wait for them before it closes the store.
	stop context.CancelFunc
	jobs sync.WaitGroup
	now  func() time.Time
	// knowMu serialises whatever replaces the understanding in force: a reload, and the daily
	// refresh that reads the understanding and applies it again (without it, a reload landing
	// between the two would be undone by the old configuration). It also guards day.
	knowMu sync.Mutex
	day    int // the business's day of the year when the knowledge was last built
	hooks  testHooks
}

func loadConfig(path string) (*intents.Config, error) {
	if path == "" {
		return intents.Parse(configs.DemoName, configs.Demo)
	}
	return intents.Load(path)
}

func startDaemon(ctx context.Context, sc serveConfig, logOut io.Writer) (_ *daemon, err error) {
	log, err := newLogger(sc.LogLevel, sc.LogFormat, logOut)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(sc.Config)
	if err != nil {
		var ce *intents.ConfigError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("the configuration is invalid; nothing was started:\n%w\n(run `attune check FILE` after fixing it)", err)
		}
		return nil, err
	}
	und, err := intents.Train(cfg)
	if err != nil {
		return nil, err
	}

	db, err := store.Open(ctx, sc.DB, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w — choose a writable file with --db or ATTUNE_DB", err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()

	// A fresh installation gets an administrator, so the console works from the first start.
	if err := firstAdmin(ctx, db, os.Getenv, logOut); err != nil {
		return nil, err
	}

	// The queue needs its notifier before the web server exists, and the server needs the queue:
	// the relay is built first and bound to the server by web.New.
	hub := web.NewHub()
	relay := web.NewRelay(log)
	var hs handoff.Store = handoffstore.New(db)
	if sc.hooks.handoffStore != nil {
		hs = sc.hooks.handoffStore(hs)
	}
	queue, err := handoff.New(handoff.Options{Config: cfg.Handoff, Open: handoff.HoursOf(cfg), Store: hs,
		Notifier: relay, Now: time.Now, Logger: log})
	if err != nil {
		return nil, err
	}
	engine, err := bot.New(bot.Options{Store: db, Publisher: hub, Understanding: und, Tone: tone.New(), Logger: log, Handoff: queue})
	if err != nil {
		return nil, err
	}
	wo := sc.Web
	wo.Engine, wo.Store, wo.Hub, wo.Logger = engine, db, hub, log
	wo.Handoff, wo.Agents, wo.Relay = queue, db, relay
	srv, err := web.New(wo)
	if err != nil {
		return nil, err
	}
	if err := queue.Restore(ctx); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", sc.Addr)
	if err != nil {
		fix := "check the address, e.g. localhost:8080"
		if errors.Is(err, syscall.EADDRINUSE) {
			fix = "another program is using it: stop it, or choose another address with --addr or ATTUNE_ADDR"
		}
		return nil, fmt.Errorf("listen on %s: %w — %s", sc.Addr, err, fix)
	}

	bg, stop := context.WithCancel(context.Background())
	d := &daemon{log: log, store: db, engine: engine, queue: queue, web: srv, hub: hub, listener: l, served: make(chan error, 1),
		stop: stop, now: time.Now, hooks: sc.hooks}
	if sc.hooks.now != nil {
		d.now = sc.hooks.now
	}
	d.day = d.now().In(und.Config.Location).YearDay()
	go func() { d.served <- srv.Serve(l) }()
	d.background(func() { queue.Run(bg, time.Second) })
	if sc.Config != "" {
		d.background(func() { intents.Watch(bg, cfg, sc.ReloadInterval, d.reload, log) })
	}
	d.background(func() { d.housekeeping(bg) })

	source := cfg.Source
	log.Info("Attune is running",
		"demo", d.URL()+"/", "console", d.URL()+"/console", "widget", d.URL()+"/widget.js", "health", d.URL()+"/healthz",
		"business", cfg.Business.Name, "config", source, "db", sc.DB)
	return d, nil
}

// URL is the base URL the server answers on.
func (d *daemon) URL() string {
	addr := d.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() || addr.IP.IsLoopback() {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("http://%s:%d", host, addr.Port)
}

// background runs a job that Shutdown stops (through d.stop) and waits for.
func (d *daemon) background(job func()) {
	d.jobs.Add(1)
	go func() {
		defer d.jobs.Done()
		job()
	}()
}

// reload applies a new configuration (intents.Watch calls it).
func (d *daemon) reload(c *intents.Config) error {
	u, err := intents.Train(c)
	if err != nil {
		return err
	}
	return d.apply(u)
}

// apply puts a trained configuration in force.
func (d *daemon) apply(u *intents.Understanding) error {
	d.knowMu.Lock()
	defer d.knowMu.Unlock()
	if err := d.engine.SetUnderstanding(u); err != nil {
		return err
	}
	d.queue.SetConfig(u.Config.Handoff, handoff.HoursOf(u.Config))
	d.day = d.now().In(u.Config.Location).YearDay() // the knowledge was just built for today
	return nil
}

// refreshDay rebuilds what depends on the date (the LLM's facts say "open today 08:00–17:30")
// when the business's day has changed since the knowledge was built.
func (d *daemon) refreshDay() {
	d.knowMu.Lock()
	defer d.knowMu.Unlock()
	u := d.engine.Understanding()
	today := d.now().In(u.Config.Location).YearDay()
	if today == d.day {
		return
	}
	d.day = today
	if d.hooks.refreshing != nil {
		d.hooks.refreshing()
	}
	if err := d.engine.SetUnderstanding(u); err != nil {
		d.log.Error("refresh the day's knowledge", "error", err)
	}
}

// housekeeping deletes expired transcripts, forgets idle conversations' in-memory state, and
// refreshes the day's knowledge each new day.
func (d *daemon) housekeeping(ctx context.Context) {
	sweep := func() {
		if d.hooks.sweep != nil {
			d.hooks.sweep(ctx)
		}
		d.refreshDay()
		retention := d.engine.Understanding().Config.Retention()
		n, err := d.store.DeleteExpired(ctx, d.now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Error("delete expired conversations", "error", err)
		case n > 0:
			d.log.Info("deleted expired conversations", "count", n, "retention_days", int(retention.Hours()/24))
		}
		d.engine.EvictIdle()
		if n, err := d.store.DeleteExpiredSessions(ctx, d.now()); err != nil && ctx.Err() == nil {
			d.log.Error("delete expired console sessions", "error", err)
		} else if n > 0 {
			d.log.Info("deleted expired console sessions", "count", n)
		}
	}
	sweep()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweep()
		}
	}
}

// Shutdown stops in the order that loses nothing: background jobs told to stop, no new
// connections, sockets told to reconnect, bot turns in progress finished and stored, background
// jobs finished, the hand-off changes whose save failed saved one last time, then the database
// closed.
func (d *daemon) Shutdown(ctx context.Context) error {
	d.stop()
	err := d.web.Shutdown(ctx)
	err = errors.Join(err, d.engine.Close(ctx))
	jobsDone := make(chan struct{})
	go func() { d.jobs.Wait(); close(jobsDone) }()
	select {
	case <-jobsDone:
		// A queue tick cut short by the stop, or an earlier failed save, left hand-off changes
		// unsaved; the queue would have retried them on its next tick, which will not come.
		d.queue.Tick(ctx)
		if n := d.queue.Unsaved(); n > 0 {
			err = errors.Join(err, fmt.Errorf("%d hand-off change(s) could not be saved before closing the database; see the warnings above", n))
		}
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("wait for background jobs (queue, configuration watcher, housekeeping): %w", ctx.Err()))
	}
	err = errors.Join(err, d.store.Close())
	if serveErr := <-d.served; serveErr != nil {
		err = errors.Join(err, serveErr)
	}
	return err
}
