package bus

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// BenchmarkTransfer sends messages of a frame's size from a Pub to a Sub
// socket in one process, at most four in flight, and reports throughput:
// what ZeroMQ costs a stage per frame, sender and receiver together.
func BenchmarkTransfer(b *testing.B) {
	for _, transport := range []string{"ipc", "tcp"} {
		for _, size := range []int{300 << 10, 3 << 20, 36 << 20} {
			b.Run(fmt.Sprintf("%s/%dKB", transport, size>>10), func(b *testing.B) {
				benchTransfer(b, transport, size, false)
			})
		}
	}
}

// BenchmarkTransferInto is BenchmarkTransfer over ipc with the receiver
// reusing one buffer (RecvInto), as the logger does.
func BenchmarkTransferInto(b *testing.B) {
	for _, size := range []int{300 << 10, 3 << 20, 36 << 20} {
		b.Run(fmt.Sprintf("ipc/%dKB", size>>10), func(b *testing.B) {
			benchTransfer(b, "ipc", size, true)
		})
	}
}

func benchTransfer(b *testing.B, transport string, size int, into bool) {
	c, err := NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ep := "tcp://127.0.0.1:0"
	if transport == "ipc" {
		ep = "ipc://" + b.TempDir() + "/t"
	}
	// The high-water marks are well above what is in flight: ZeroMQ learns
	// that the peer has read in batches of half the mark, so a mark of 8
	// dropped messages here with only 4 in flight.
	const inFlight = 4
	pub, err := c.Pub("@"+ep, Options{HWM: 100, Linger: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	sub, err := c.Sub(">"+pub.Endpoints()[0], Options{HWM: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	// Until the subscription has arrived, a PUB drops: ping until one lands.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := pub.Send([]byte("ping")); err != nil {
			b.Fatal(err)
		}
		if _, err := sub.Recv(20 * time.Millisecond); err == nil {
			break
		} else if !errors.Is(err, ErrTimeout) || time.Now().After(deadline) {
			b.Fatalf("subscription never arrived: %v", err)
		}
	}
	for { // drain the extra pings
		if _, err := sub.Recv(50 * time.Millisecond); err != nil {
			break
		}
	}

	msg := make([]byte, size)
	credit := make(chan struct{}, inFlight)
	errc := make(chan error, 1)
	b.SetBytes(int64(size))
	b.ResetTimer()
	go func() {
		for range b.N {
			credit <- struct{}{}
			if err := pub.Send(msg); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var buf []byte
	for i := range b.N {
		got, err := sub.RecvInto(buf, 10*time.Second)
		if into {
			buf = got[:0]
		}
		if err != nil {
			b.Fatalf("message %d: %v", i, err)
		}
		if len(got) != size {
			b.Fatalf("message %d: %d bytes; want %d", i, len(got), size)
		}
		<-credit
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
