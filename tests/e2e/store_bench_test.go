package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
)

// BenchmarkVaultStore measures the vault's two backends, the disk store and
// the S3 store on a real SeaweedFS (`weed server`, one process, on this
// machine), in the same run: puts then gets of 4 KiB and 1 MiB blobs at
// concurrency 1 and 16, as the vault's handlers call them (hashing, the
// first-uploader rule, usage counting). It reports blobs/s, MB/s and the
// p50/p99 latency of each. Run it with -benchtime 1x -count 3 for repeats:
//
//	go test -run '^$' -bench VaultStore -benchtime 1x -count 3 ./tests/e2e/
func BenchmarkVaultStore(b *testing.B) {
	sw := network.StartSeaweedFS(b)
	c := sw.MakeBucket("bench")
	// the first writes of a fresh SeaweedFS grow its volumes (hundreds of ms):
	// not what an operator's running store does, so not measured
	for i := range 20 {
		if _, err := c.PutObject(context.Background(), "bench", fmt.Sprintf("warm-up/%d", i), bytes.NewReader(make([]byte, 4096)), 4096,
			minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	prefixes := 0
	backends := []struct {
		name string
		open func(b *testing.B) vault.Store
	}{
		{"disk", func(b *testing.B) vault.Store {
			s, err := vault.NewDiskStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"seaweedfs", func(b *testing.B) vault.Store {
			prefixes++
			s, err := vault.NewS3Store(context.Background(), vault.S3Config{
				Endpoint: sw.S3, Bucket: "bench", Prefix: fmt.Sprintf("run-%d", prefixes), AccessKey: "any", SecretKey: "any", PathStyle: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, size := range []int{4 << 10, 1 << 20} {
		count := 400
		if size > 64<<10 {
			count = 64
		}
		for _, conc := range []int{1, 16} {
			for _, be := range backends {
				b.Run(fmt.Sprintf("%s/%dKiB/c%d", be.name, size>>10, conc), func(b *testing.B) {
					blobs := make([][]byte, count)
					for i := range blobs {
						blobs[i] = make([]byte, size)
						_, _ = rand.Read(blobs[i])
					}
					var put, get []time.Duration
					var putWall, getWall time.Duration
					for range b.N {
						store := be.open(b)
						lat, wall := runOps(b, conc, count, func(i int) error {
							_, _, err := store.Put(context.Background(), vault.Hash(sha256.Sum256(blobs[i])), bytes.NewReader(blobs[i]), int64(size), "bench")
							return err
						})
						put, putWall = append(put, lat...), putWall+wall
						lat, wall = runOps(b, conc, count, func(i int) error {
							rc, _, err := store.Get(context.Background(), vault.Hash(sha256.Sum256(blobs[i])))
							if err != nil {
								return err
							}
							defer rc.Close()
							_, err = io.Copy(io.Discard, rc)
							return err
						})
						get, getWall = append(get, lat...), getWall+wall
					}
					ops := float64(count * b.N)
					b.ReportMetric(ops/putWall.Seconds(), "put-blobs/s")
					b.ReportMetric(ops/getWall.Seconds(), "get-blobs/s")
					b.ReportMetric(ops*float64(size)/1e6/putWall.Seconds(), "put-MB/s")
					b.ReportMetric(ops*float64(size)/1e6/getWall.Seconds(), "get-MB/s")
					b.ReportMetric(ms(quantile(put, 0.50)), "put-p50-ms")
					b.ReportMetric(ms(quantile(put, 0.99)), "put-p99-ms")
					b.ReportMetric(ms(quantile(get, 0.50)), "get-p50-ms")
					b.ReportMetric(ms(quantile(get, 0.99)), "get-p99-ms")
				})
			}
		}
	}
}

// runOps runs op(0..count-1) on conc workers and returns each one's latency
// and the wall time of all.
func runOps(b *testing.B, conc, count int, op func(i int) error) ([]time.Duration, time.Duration) {
	lat := make([]time.Duration, count)
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for i := range work {
				t0 := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	for i := range count {
		work <- i
	}
	close(work)
	wg.Wait()
	return lat, time.Since(start)
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
