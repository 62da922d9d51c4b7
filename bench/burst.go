package main

import (
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"
)

// burst sends, for each token handler, 100 concurrent token requests for
// one new room, 20 times, and reports the LiveKit and lease-store calls per
// burst. Scoped names make none; PrecreateRooms and shared names make one
// room preparation serve the requests that arrive while it runs.
func (b *bench) burst() {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	const bursts, size = 20, 100
	fmt.Println()
	fmt.Println("### Burst")
	fmt.Println()
	fmt.Printf("%d concurrent token requests for a new room (mean of %d bursts):\n\n", size, bursts)
	fmt.Println("| mode | LiveKit calls per burst | lease-store calls per burst | slowest burst |")
	fmt.Println("|---|---|---|---|")
	for _, v := range b.tokenVariants() {
		log.Printf("bench: bursts, %s", v.name)
		var calls, leases int64
		var worst time.Duration
		for n := range bursts {
			room := fmt.Sprintf("burst-%d-%d", time.Now().UnixNano(), n)
			v.calls.Store(0)
			if v.leases != nil {
				v.leases.calls.Store(0)
			}
			var wg sync.WaitGroup
			start := time.Now()
			for i := range size {
				wg.Go(func() {
					res, err := client.Do(b.post(v.path+"/livekit/token", tokenBody(room, i)))
					if err != nil {
						log.Fatalf("bench: burst, %s: %v", v.name, err)
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						log.Fatalf("bench: burst, %s: status %d", v.name, res.StatusCode)
					}
				})
			}
			wg.Wait()
			worst = max(worst, time.Since(start))
			calls += v.calls.Load()
			if v.leases != nil {
				leases += v.leases.calls.Load()
			}
		}
		leaseCol := ""
		if v.leases != nil {
			leaseCol = fmt.Sprintf("%.1f", float64(leases)/bursts)
		}
		fmt.Printf("| %s | %.1f | %s | %s |\n", v.name, float64(calls)/bursts, leaseCol, ms(worst))
	}
}
