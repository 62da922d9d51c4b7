package forward

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/faillog"
)

// Defaults of the zero [Config] fields.
const (
	DefaultQueueSize       = 4096
	DefaultTenantQueueSize = 256
	DefaultWorkers         = 8
	DefaultTenantWorkers   = 2
	DefaultAttempts        = 8
	DefaultBackoff         = time.Second
	DefaultMaxBackoff      = time.Minute
	DefaultTimeout         = 10 * time.Second
)

// Config configures [New]; only Endpoint is required.
type Config struct {
	// Endpoint returns the URL that receives tenant's events and the
	// secret they are signed with; ok false (or an empty secret) means
	// tenant receives nothing. It runs on a delivery worker before every
	// attempt, never while LiveKit waits for its answer, so it may look
	// the tenant up in a database, and a moved URL or a rotated secret
	// applies from the next attempt. It must be safe for concurrent use.
	Endpoint func(tenant string) (url string, secret []byte, ok bool)
	// Client sends the deliveries. Nil means a client that follows no
	// redirect (a 3xx is a failure: the signed body goes where the
	// tenant's URL says, nowhere else).
	Client *http.Client
	// Timeout bounds each attempt. Zero means DefaultTimeout.
	Timeout time.Duration
	// QueueSize bounds the events held at once for all tenants: queued,
	// waiting for a retry or in flight. An event that finds it full is
	// dropped and counted. Zero means DefaultQueueSize.
	QueueSize int
	// TenantQueueSize bounds the events held at once for one tenant, so
	// that a tenant whose receiver is down cannot fill the queue of the
	// others. Zero means DefaultTenantQueueSize.
	TenantQueueSize int
	// Workers is how many deliveries run at once. Zero means
	// DefaultWorkers.
	Workers int
	// TenantWorkers is how many of one tenant's deliveries run at once, so
	// that a slow receiver holds at most that many workers. Zero means
	// DefaultTenantWorkers; it is capped at Workers.
	TenantWorkers int
	// Attempts is how many times an event is sent before it is given up.
	// Zero means DefaultAttempts.
	Attempts int
	// Backoff is the delay before the first retry; each next one doubles,
	// up to MaxBackoff, and each is drawn at random between half of it and
	// all of it. Zero means DefaultBackoff.
	Backoff time.Duration
	// MaxBackoff caps the delay between attempts. Zero means
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Logger receives failed deliveries and drops, redacted and
	// aggregated (the first of a kind at once, then one line per 10 s per
	// kind). URLs, secrets and bodies are never logged. Nil discards.
	Logger *slog.Logger
}

// Stats counts what a [Forwarder] did with the events it was given.
type Stats struct {
	// Held is how many events are queued, waiting for a retry or in
	// flight now.
	Held int
	// Delivered counts events a receiver answered with a 2xx.
	Delivered uint64
	// Failed counts events given up: answered with a status that is not
	// retried, out of attempts, or with an invalid URL or an empty secret.
	Failed uint64
	// Unrouted counts events of tenants Endpoint gave no URL for.
	Unrouted uint64
	// Dropped counts events lost to a full queue, a closed Forwarder, or
	// a Close that gave up on them.
	Dropped uint64
	// Retries counts attempts after the first.
	Retries uint64
}

// Forwarder sends each tenant's LiveKit events to that tenant's own URL,
// signed, from a bounded in-memory queue (see the package documentation
// for what a receiver gets and the delivery guarantee). It is safe for
// concurrent use; its workers run until [Forwarder.Close].
type Forwarder struct {
	cfg      Config
	client   *http.Client
	failures *faillog.Log
	ctx      context.Context // cancelled when Close gives up
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu       sync.Mutex
	work     *sync.Cond // signalled when a tenant becomes ready, or on stop
	tenants  map[string]*tenantQueue
	ready    []*tenantQueue // tenants with a queued event and a free worker, in turn
	retries  map[*delivery]*time.Timer
	held     int
	closed   bool          // Forward refuses events
	stopping bool          // workers exit
	drained  chan struct{} // closed when closed and nothing is held
	stats    Stats
}

type tenantQueue struct {
	name     string
	queue    []*delivery
	held     int // queued, waiting for a retry or in flight
	inFlight int
	inReady  bool
}

type delivery struct {
	tenant, id string
	body       []byte
	attempts   int
}

// New starts a Forwarder, or returns an error naming the faulty Config
// field. Call Close when done with it.
func New(cfg Config) (*Forwarder, error) {
	if cfg.Endpoint == nil {
		return nil, errors.New("forward: Config.Endpoint is required")
	}
	for name, v := range map[string]int64{"Timeout": int64(cfg.Timeout), "QueueSize": int64(cfg.QueueSize), "TenantQueueSize": int64(cfg.TenantQueueSize),
		"Workers": int64(cfg.Workers), "TenantWorkers": int64(cfg.TenantWorkers), "Attempts": int64(cfg.Attempts), "Backoff": int64(cfg.Backoff), "MaxBackoff": int64(cfg.MaxBackoff)} {
		if v < 0 {
			return nil, errors.New("forward: Config." + name + " must not be negative")
		}
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.QueueSize = cmp.Or(cfg.QueueSize, DefaultQueueSize)
	cfg.TenantQueueSize = min(cmp.Or(cfg.TenantQueueSize, DefaultTenantQueueSize), cfg.QueueSize)
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.TenantWorkers = min(cmp.Or(cfg.TenantWorkers, DefaultTenantWorkers), cfg.Workers)
	cfg.Attempts = cmp.Or(cfg.Attempts, DefaultAttempts)
	cfg.Backoff = cmp.Or(cfg.Backoff, DefaultBackoff)
	cfg.MaxBackoff = max(cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff), cfg.Backoff)
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	client := cfg.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	f := &Forwarder{cfg: cfg, client: client, failures: faillog.New(cfg.Logger, time.Now, lkgate.Redact),
		tenants: map[string]*tenantQueue{}, retries: map[*delivery]*time.Timer{}, drained: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.work = sync.NewCond(&f.mu)
	f.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go f.worker()
	}
	return f, nil
}

// Forward queues ev for its tenant and returns at once, never waiting for
// a delivery: pass it as httpx.Config.OnWebhook. An event of no tenant, or
// of a guest's lobby, is not forwarded ([ForTenant]); one that finds the
// queue full, or the Forwarder closed, is dropped and counted. ctx (the
// webhook request's) is used for logging only: deliveries outlive it.
func (f *Forwarder) Forward(ctx context.Context, ev lkgate.WebhookEvent) {
	tev, ok := ForTenant(ev)
	if !ok {
		return
	}
	body, err := protojson.Marshal(tev)
	if err != nil {
		f.failures.Failure(ctx, slog.LevelError, "forward: event not encoded", "encode", err, slog.String("tenant", ev.Tenant))
		return
	}
	d := &delivery{tenant: ev.Tenant, id: tev.GetId(), body: body}
	f.mu.Lock()
	q := f.tenants[d.tenant]
	var full string
	switch {
	case f.closed:
		full = "the forwarder is closed"
	case f.held >= f.cfg.QueueSize:
		full = "the queue is full"
	case q != nil && q.held >= f.cfg.TenantQueueSize:
		full = "the tenant's queue is full"
	}
	if full != "" {
		f.stats.Dropped++
		f.mu.Unlock()
		f.failures.Failure(ctx, slog.LevelWarn, "forward: event dropped", "dropped", errors.New(full), slog.String("tenant", d.tenant), slog.String("event", d.id))
		return
	}
	if q == nil {
		q = &tenantQueue{name: d.tenant}
		f.tenants[d.tenant] = q
	}
	q.held++
	f.held++
	q.queue = append(q.queue, d)
	f.markReady(q)
	f.mu.Unlock()
}

// Stats returns what the Forwarder has done so far.
func (f *Forwarder) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Held = f.held
	return s
}

// Close stops accepting events and waits until every held event is
// delivered or given up, or until ctx ends; then it abandons what is
// left (counted as dropped), cancels the attempts in flight, stops the
// workers and returns ctx's error. Forward after Close drops.
func (f *Forwarder) Close(ctx context.Context) error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		f.checkDrained()
	}
	f.mu.Unlock()
	var err error
	select {
	case <-f.drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	f.mu.Lock()
	f.stopping = true
	for d, t := range f.retries {
		t.Stop()
		f.forget(f.tenants[d.tenant])
		f.stats.Dropped++
	}
	clear(f.retries)
	for _, q := range f.tenants {
		for range q.queue {
			f.forget(q)
			f.stats.Dropped++
		}
		q.queue = nil
	}
	f.ready = nil
	f.work.Broadcast()
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	f.failures.Flush(context.Background())
	return err
}
