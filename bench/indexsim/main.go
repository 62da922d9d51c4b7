// Command indexsim drives redislimit's RoomIndex, on a private
// redis-server, with a synthetic stream of LiveKit room_started and
// room_finished webhooks: room sessions over tenants with a skewed (Zipf)
// distribution, names re-created under new SIDs, and events lost,
// duplicated and delayed past later ones (a room_finished before its
// room_started included), handled by concurrent workers. It then compares
// the index with the rooms alive at the end, reconciles every tenant
// against that full list and compares again, and measures Redis's memory
// per room and the latency of a tenant's Rooms. It prints Markdown; see
// docs/scaling.md.
//
//	go run ./bench/indexsim                         # 1,000,000 rooms over 10,000 tenants
//	go run ./bench/indexsim -rooms 100000 -tenants 1000 -loss 0.05
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/redislimit"
)

func main() {
	m := model{}
	flag.IntVar(&m.rooms, "rooms", 1_000_000, "rooms alive at the end")
	flag.IntVar(&m.tenants, "tenants", 10_000, "tenants the rooms are drawn over")
	flag.Float64Var(&m.zipf, "zipf", 1.1, "skew of rooms over tenants: tenant k (from 0) draws in proportion to (k+1)^-zipf")
	flag.Float64Var(&m.loss, "loss", 0.01, "chance that a webhook is lost")
	flag.Float64Var(&m.dup, "dup", 0.02, "chance that a webhook is delivered twice (the copy is delayed)")
	flag.Float64Var(&m.reorder, "reorder", 0.05, "chance that a webhook is delayed past later ones")
	delay := flag.Duration("delay", 2*time.Minute, "mean delay of a delayed or duplicated webhook (exponential)")
	horizon := flag.Duration("horizon", 2*time.Hour, "simulated time the sessions span")
	flag.Float64Var(&m.recreate, "recreate", 0.5, "chance that a room's name is re-created (a new SID) after its session ends")
	flag.Uint64Var(&m.seed, "seed", 1, "random seed")
	workers := flag.Int("workers", 32, "concurrent event handlers")
	sweepWorkers := flag.Int("sweep-workers", 1, "concurrent tenant reconciliations (Manager.ReconcileRoomIndex runs them one at a time)")
	hashListpack := flag.Int("hash-max-listpack-entries", 0, "Redis's hash-max-listpack-entries for the run; 0 keeps its default (512)")
	zsetListpack := flag.Int("zset-max-listpack-entries", 0, "Redis's zset-max-listpack-entries for the run; 0 keeps its default (128)")
	flag.Parse()
	m.delay, m.horizon = delay.Seconds(), int(horizon.Seconds())
	m.shortShare, m.shortLife, m.longLife, m.gap = 0.2, 120, 3600, 120
	if m.rooms < 1 || m.tenants < 2 || m.zipf <= 1 || *workers < 1 || *sweepWorkers < 1 || m.horizon < 1 {
		log.Fatal("indexsim: -rooms ≥ 1, -tenants ≥ 2, -zipf > 1, -workers ≥ 1, -sweep-workers ≥ 1 and -horizon ≥ 1s")
	}

	progress("generating the stream")
	t0 := time.Now()
	s := m.generate(time.Now())
	genTime := time.Since(t0)

	srv, err := redisserver.Launch()
	if err != nil {
		log.Fatalf("indexsim: starting redis-server: %v", err)
	}
	defer srv.Stop()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: *workers + *sweepWorkers})
	defer client.Close()
	ctx := context.Background()
	for name, v := range map[string]int{"hash-max-listpack-entries": *hashListpack, "zset-max-listpack-entries": *zsetListpack} {
		if v <= 0 {
			continue
		}
		if err := client.ConfigSet(ctx, name, fmt.Sprint(v)).Err(); err != nil {
			srv.Stop()
			log.Fatalf("indexsim: %v", err)
		}
	}
	x, err := redislimit.NewRoomIndex(redislimit.Config{Client: client})
	if err != nil {
		log.Fatal(err)
	}
	r := &run{s: s, x: x, client: client, workers: *workers, sweepWorkers: *sweepWorkers}
	if err := r.all(ctx); err != nil {
		srv.Stop()
		log.Fatalf("indexsim: %v", err)
	}
	r.report(os.Stdout, m, genTime, strings.Join(os.Args[1:], " "))
}

func progress(what string) {
	fmt.Fprintf(os.Stderr, "%s indexsim: %s\n", time.Now().Format("15:04:05"), what)
}

// machine describes where the run happened.
func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s %s/%s", runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
